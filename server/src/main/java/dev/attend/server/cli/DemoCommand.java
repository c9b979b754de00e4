package dev.attend.server.cli;

import dev.attend.gpu.KvHead;
import dev.attend.gpu.OpenClScorer;
import dev.attend.gpu.Precision;
import dev.attend.gpu.ScalarScorer;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.SharedData;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.policy.AttentionAccuracy;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job on embedded defaults: decode-time top-k attention retrieval. Each decode query of a
 * real attention head (or of a generated workload when the shared data is absent) is scored against
 * the prefill keys on every available backend; the exact scalar answer is the yardstick. Then retrieval
 * attention in a KV session, a language model decoding through one ({@link LmDemo}), long-sequence recommendation
 * ({@link RecommendationDemo}) and hybrid search ({@link SearchDemo}).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "The three jobs on embedded defaults: top-k scoring on every backend, retrieval attention, a language model "
                + "decoding through it, recommendation "
                + "with streamed events, hybrid search; then the same through a running server's HTTP API, which keeps serving "
                + "(its web console at /) until Ctrl-C unless --once.")
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--data", paramLabel = "DIR",
            description = "Folder of attention heads (meta.json + {head}.{q,k,v}.npy). Default: ../shared/data/kv/minilm-shakespeare when present, else generated data.")
    Path data;

    @Option(names = "--k", defaultValue = "100", description = "Keys retrieved per query (default: ${DEFAULT-VALUE}).")
    int k;

    @Option(names = "--decode", defaultValue = "1024", description = "Trailing tokens used as decode queries (default: ${DEFAULT-VALUE}).")
    int decode;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "data",
            description = "Where the server of the last step keeps its files (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--port", paramLabel = "PORT", description = "The server's port (default: 8080 when free, else any free one).")
    Integer port;

    @Option(names = "--once", description = "Stop the server after the walkthrough instead of serving until Ctrl-C.")
    boolean once;

    @Option(names = "--backends", split = ",", defaultValue = "simd-1,simd,opencl",
            description = "Backends to run besides the exact reference: simd-1, simd, opencl (default: ${DEFAULT-VALUE}).")
    List<String> backends;

    /** Prefill keys, values and queries, and decode queries of one head. */
    record Workload(String name, VectorStore keys, VectorStore values, float[][] prefillQueries, float[][] queries, float scale) {
    }

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        if (k < 1 || decode < 1) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), "--k and --decode must be >= 1");
        }
        List<Workload> workloads = new ArrayList<>();
        Optional<Path> dir = Optional.ofNullable(data).or(() -> SharedData.resolve("kv/minilm-shakespeare"));
        if (dir.isPresent()) {
            out.println("Data: real attention heads from " + dir.get());
            for (String head : KvHead.heads(dir.get())) {
                workloads.add(fromHead(KvHead.load(dir.get(), head, Precision.FLOAT32)));
            }
        } else {
            out.println("Data: generated (no ../shared/data here): a synthetic decode workload of 65,536 tokens, d = 64, "
                    + "queries drawn off the key distribution as attention queries are");
            workloads.add(synthetic(65_536, 64, 20261128L));
        }
        out.println("Task: top-" + k + " keys by inner product for each decode query, as retrieval attention asks at every decode step.");
        out.println();
        for (Workload w : workloads) {
            run(w, out);
        }
        retrievalAttention(workloads.get(0), out);
        LmDemo.run(out);
        RecommendationDemo.Trained trained = RecommendationDemo.run(out);
        SearchDemo.Corpus corpus = SearchDemo.run(out);
        ServeWalkthrough.run(out, dataDir, port, once, workloads.get(0), trained, corpus);
        return 0;
    }

    private Workload fromHead(KvHead head) {
        int n = head.tokens();
        int d = Math.min(decode, n - 1);
        VectorStore keys = new VectorStore(head.keys().dim(), Precision.FLOAT32);
        VectorStore values = new VectorStore(head.values().dim(), Precision.FLOAT32);
        float[][] prefillQueries = new float[n - d][];
        float[] row = new float[keys.dim()];
        for (int i = 0; i < n - d; i++) {
            head.keys().readRow(i, row);
            keys.append(row);
            head.values().readRow(i, row);
            values.append(row);
            prefillQueries[i] = head.queries().row(i);
        }
        float[][] queries = new float[d][];
        for (int j = 0; j < d; j++) {
            queries[j] = head.queries().row(n - d + j);
        }
        return new Workload(head.name(), keys, values, prefillQueries, queries, head.scale());
    }

    /** Keys around a few directions; queries shifted away from the keys' mean, as attention queries are. */
    static Workload synthetic(int tokens, int dim, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int clusters = 64;
        float[][] centers = new float[clusters][dim];
        for (float[] c : centers) {
            for (int i = 0; i < dim; i++) {
                c[i] = (float) (2 * gaussian(rnd));
            }
        }
        float[] shift = new float[dim];
        for (int i = 0; i < dim; i++) {
            shift[i] = (float) (1.5 * gaussian(rnd));
        }
        VectorStore keys = new VectorStore(dim, Precision.FLOAT32);
        VectorStore values = new VectorStore(dim, Precision.FLOAT32);
        float[] row = new float[dim];
        int decode = 1024;
        for (int t = 0; t < tokens - decode; t++) {
            float[] c = centers[rnd.nextInt(clusters)];
            for (int i = 0; i < dim; i++) {
                row[i] = c[i] + (float) gaussian(rnd);
            }
            keys.append(row);
            for (int i = 0; i < dim; i++) {
                row[i] = (float) gaussian(rnd);
            }
            values.append(row);
        }
        float[][] prefillQueries = new float[tokens - decode][];
        float[][] queries = new float[decode][];
        for (int j = 0; j < tokens; j++) {
            float[] c = centers[rnd.nextInt(clusters)];
            float[] q = new float[dim];
            for (int i = 0; i < dim; i++) {
                q[i] = 0.5f * c[i] + shift[i] + (float) gaussian(rnd);
            }
            if (j < tokens - decode) {
                prefillQueries[j] = q;
            } else {
                queries[j - (tokens - decode)] = q;
            }
        }
        return new Workload("synthetic", keys, values, prefillQueries, queries, (float) (1 / Math.sqrt(dim)));
    }

    private static double gaussian(SplittableRandom rnd) {
        return Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
    }

    private void run(Workload w, PrintStream out) {
        int n = w.keys().size();
        int m = w.queries().length;
        double keyBytes = (double) n * w.keys().dim() * Float.BYTES;
        double flops = 2.0 * n * w.keys().dim() * m;
        out.printf(Locale.ROOT, "== %s: %,d prefill keys x d=%d, %,d decode queries, k=%d (keys %.1f MB)%n",
                w.name(), n, w.keys().dim(), m, k, keyBytes / 1e6);
        long t0 = System.nanoTime();
        TopKResult exact;
        try (ScalarScorer reference = new ScalarScorer()) {
            exact = reference.topK(w.queries(), w.keys(), k);
        }
        double refMs = (System.nanoTime() - t0) / 1e6;
        out.printf(Locale.ROOT, "  %-10s %-58s %9s %9s %9s %10s %12s%n",
                "backend", "device", "ms", "q/s", "GFLOP/s", "recall@k", "max|Δscore|");
        row(out, "exact", exact, refMs, m, flops, 1.0, 0.0);
        for (String name : backends) {
            String backend = name.strip().toLowerCase(Locale.ROOT);
            if (backend.equals("opencl") && !OpenClScorer.available()) {
                out.printf(Locale.ROOT, "  %-10s skipped: no OpenCL runtime or device here (install ocl-icd-libopencl1 and a driver, e.g. pocl-opencl-icd)%n", backend);
                continue;
            }
            try (Scorer scorer = create(backend)) {
                scorer.topK(w.queries(), w.keys(), k); // warm-up: JIT, kernel compile, key upload
                long start = System.nanoTime();
                TopKResult got = scorer.topK(w.queries(), w.keys(), k);
                double ms = (System.nanoTime() - start) / 1e6;
                double[] agreement = agreement(got, exact);
                row(out, backend, got, ms, m, flops, agreement[0], agreement[1]);
            }
        }
        out.println();
    }

    /**
     * Retrieval attention on one head: a KV session is prefilled with the head's keys, values and
     * queries (its attention-aware index is built from them), then answers decode queries from the
     * static set (128 sinks, 512 recent tokens) merged with the top-k it retrieves; each answer is
     * compared with exact attention over every key.
     */
    private void retrievalAttention(Workload w, PrintStream out) {
        int n = w.keys().size();
        int d = w.keys().dim();
        int steps = Math.min(256, w.queries().length);
        float[][] keys = new float[n][];
        float[][] values = new float[n][];
        for (int i = 0; i < n; i++) {
            keys[i] = w.keys().row(i);
            values[i] = w.values().row(i);
        }
        out.printf(Locale.ROOT, "== Retrieval attention on %s: %,d tokens in a KV session, %d decode queries%n", w.name(), n, steps);
        KvSessionConfig config = KvSessionConfig.defaults(1, 1, 1, d).withTopK(k).withScale(w.scale());
        try (Scorer scorer = Scorers.create("auto"); KvSession session = new KvSession(w.name(), config, scorer, Runnable::run)) {
            long t0 = System.nanoTime();
            session.prefill(0, 0, 0, keys, values, w.prefillQueries());
            int indexed = session.indexState(0, 0).indexedKeys();
            int trained = config.indexParams().trainingQueries(w.prefillQueries().length, indexed);
            out.printf(Locale.ROOT, "  attention-aware index over %,d keys built in %.1f s from %,d of the %,d prefill queries%n",
                    indexed, (System.nanoTime() - t0) / 1e9, trained, w.prefillQueries().length);
            for (int topK : new int[] {k, 20 * k}) {
                int budget = KvSessionConfig.defaultBudget(n, topK); // the server's default
                double mass = 0;
                double error = 0;
                long[] retrievedUs = new long[steps];
                long[] fullUs = new long[steps];
                long scanned = 0;
                for (int j = 0; j < steps; j++) {
                    float[] q = w.queries()[j];
                    AttendResult exact = session.attendExact(0, 0, q);
                    AttendResult got = session.attend(0, 0, q, topK, budget);
                    mass += AttentionAccuracy.massKept(got.logSumExp(), exact.logSumExp());
                    error += AttentionAccuracy.relativeError(got.output(), exact.output());
                    retrievedUs[j] = got.stats().micros();
                    fullUs[j] = exact.stats().micros();
                    scanned += got.stats().keysScanned();
                }
                Arrays.sort(retrievedUs);
                Arrays.sort(fullUs);
                out.printf(Locale.ROOT, "  static + top-%-5d attention mass kept %.3f, relative output error %.3f, %.1f%% of keys scanned, "
                                + "%d us per query (median) against %d us for full attention%n",
                        topK, mass / steps, error / steps, 100.0 * scanned / steps / n, retrievedUs[steps / 2], fullUs[steps / 2]);
            }
        }
        out.println();
    }

    private static Scorer create(String backend) {
        return switch (backend) {
            case "simd-1" -> new SimdScorer(1);
            default -> Scorers.create(backend);
        };
    }

    private static void row(PrintStream out, String name, TopKResult r, double ms, int m, double flops, double recall, double maxDiff) {
        out.printf(Locale.ROOT, "  %-10s %-58s %9.1f %9.0f %9.2f %10.4f %12.2e%n",
                name, truncate(r.device().toString(), 58), ms, m / (ms / 1e3), flops / (ms / 1e3) / 1e9, recall, maxDiff);
    }

    private static String truncate(String s, int width) {
        return s.length() <= width ? s : s.substring(0, width - 1) + "…";
    }

    /** Mean recall@k of the exact ids, and the largest score difference at equal rank. */
    static double[] agreement(TopKResult got, TopKResult exact) {
        double recall = 0;
        double maxDiff = 0;
        for (int q = 0; q < exact.perQuery().size(); q++) {
            TopK e = exact.get(q);
            TopK g = got.get(q);
            Set<Integer> ids = new HashSet<>();
            for (int id : e.ids()) {
                ids.add(id);
            }
            int hit = 0;
            for (int i = 0; i < g.size(); i++) {
                hit += ids.contains(g.ids()[i]) ? 1 : 0;
                maxDiff = Math.max(maxDiff, Math.abs(g.scores()[i] - e.scores()[i]));
            }
            recall += e.size() == 0 ? 1 : (double) hit / e.size();
        }
        return new double[] {recall / Math.max(1, exact.perQuery().size()), maxDiff};
    }
}
