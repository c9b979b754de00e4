package dev.attend.bench;

import dev.attend.gpu.OpenClScorer;
import dev.attend.gpu.Profile;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code bench scorer --build}: an index build's exact top-k, {@code Scorer.topK(queries, keys, 0, n, k)} for all of a
 * head's queries, timed per head on SIMD (all cores) and OpenCL in the same run. Effective GFLOP/s count one score per
 * (query, key): 2 x queries x n x d (the OpenCL kernel computes each score twice: for the group maxima, then for the
 * candidates). With {@code --heads H}, OpenCL also builds H heads at once, one thread and one store each, as a model's
 * build does, and reports the wall time per head. Like {@link ScorerBench}, touches nothing but attend-gpu.
 */
final class BuildTopKBench {

    private final ScorerOptions options;
    private final PrintStream out;
    private final PrintStream err;
    private final int threads = Runtime.getRuntime().availableProcessors();

    private BuildTopKBench(ScorerOptions options, PrintStream out, PrintStream err) {
        this.options = options;
        this.out = out;
        this.err = err;
    }

    static int run(ScorerOptions options, PrintStream out, PrintStream err) {
        try {
            return new BuildTopKBench(options, out, err).measure();
        } catch (IOException | InterruptedException | ExecutionException e) {
            err.println("bench scorer --build: " + e);
            return 1;
        }
    }

    private int measure() throws IOException, InterruptedException, ExecutionException {
        Map<String, Object> machine = MachineInfo.describe();
        err.printf(Locale.ROOT, "[build] %s, %d cores, Java %s, max heap %.0f MB%n", machine.get("cpu"), threads,
                Runtime.version(), Runtime.getRuntime().maxMemory() / 1e6);
        List<Map<String, Object>> rows = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int n : options.ns()) {
                for (int d : options.ds()) {
                    shape(n, d, pool, rows);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        if (options.json() != null) {
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("mode", "build");
            config.put("precision", options.precision().name().toLowerCase(Locale.ROOT));
            config.put("k", options.k());
            config.put("queries", options.buildQueries());
            config.put("per_call", Math.min(options.perCall(), options.buildQueries()));
            config.put("heads", options.heads());
            config.put("backends", String.join(",", options.backends()));
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("bench", "scorer-build"); // not the scorer's rows: bench plot leaves it alone
            report.put("machine", machine);
            report.put("config", config);
            report.put("rows", rows);
            Path parent = options.json().toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(options.json(), JsonWriter.write(report, 2) + "\n");
            err.println("[build] wrote " + options.json());
        }
        return 0;
    }

    private void shape(int n, int d, ExecutorService pool, List<Map<String, Object>> rows)
            throws InterruptedException, ExecutionException {
        int q = options.buildQueries();
        int heads = options.backends().contains("opencl") ? options.heads() : 1;
        List<VectorStore> stores = new ArrayList<>();
        for (int h = 0; h < heads; h++) {
            stores.add(RandomRows.store(n, d, options.precision(), options.seed() + h, threads, pool));
        }
        float[][] queries = RandomRows.queries(q, d, options.seed());
        double flops = 2.0 * q * n * d;
        out.printf(Locale.ROOT, "build shape: %d queries x %d keys x d=%d, %s keys, k=%d, %d queries per call:"
                        + " %.3g flops per head for one score each (the OpenCL kernel computes %.3g)%n",
                q, n, d, options.precision().name().toLowerCase(Locale.ROOT), options.k(),
                Math.min(options.perCall(), q), flops, 2 * flops);
        TopKResult reference = null;
        double simdMs = Double.NaN;
        if (options.backends().contains("simd")) {
            try (SimdScorer simd = new SimdScorer()) {
                Timed t = time(simd, stores.getFirst(), queries);
                reference = t.result;
                simdMs = t.medianMs;
                rows.add(row("simd", n, d, t, flops, simdMs, reference));
            }
        }
        if (options.backends().contains("opencl")) {
            if (!OpenClScorer.available()) {
                err.println("[build] skip opencl: no OpenCL device found");
                return;
            }
            try (OpenClScorer cl = new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU)) {
                long t0 = System.nanoTime();
                head(cl, stores.getFirst(), queries);
                double firstMs = (System.nanoTime() - t0) / 1e6;
                Timed t = time(cl, stores.getFirst(), queries);
                Map<String, Object> row = row("opencl", n, d, t, flops, simdMs, reference);
                row.put("first_call_ms", firstMs);
                row.put("device_resident_MB", cl.residentBytes(stores.getFirst()) / 1e6);
                Profile profile = cl.lastProfile();
                row.put("last_call_profile", profile == null ? "-" : profile.toString());
                if (heads > 1) {
                    double perHead = concurrent(cl, stores, queries);
                    row.put("heads_at_once", heads);
                    row.put("ms_per_head_at_once", perHead);
                    row.put("gflops_at_once", flops / (perHead * 1e6));
                }
                rows.add(row);
                out.printf(Locale.ROOT, "opencl first call (kernel build + upload) %.1f ms; device memory for one head"
                        + " %.1f MB (keys widened to float32, batch buffers); last call: %s%n", firstMs,
                        cl.residentBytes(stores.getFirst()) / 1e6, profile);
            }
        }
    }

    /** A head's queries through {@code perCall}-query calls of the range top-k, answers concatenated. */
    private TopKResult head(Scorer scorer, VectorStore keys, float[][] queries) {
        int per = Math.min(options.perCall(), queries.length);
        List<TopK> all = new ArrayList<>(queries.length);
        TopKResult last = null;
        for (int from = 0; from < queries.length; from += per) {
            float[][] part = Arrays.copyOfRange(queries, from, Math.min(queries.length, from + per));
            last = scorer.topK(part, keys, 0, keys.size(), options.k());
            if (!last.device().backend().equals(scorer.device().backend())) {
                err.println("[build] warning: " + scorer.device().backend() + " answered on " + last.device());
            }
            all.addAll(last.perQuery());
        }
        return new TopKResult(all, last.device());
    }

    private record Timed(double medianMs, double bestMs, int reps, TopKResult result) {
    }

    /** One untimed warm-up head (the only one when it took over --max-call-s), then --reps heads (default 3). */
    private Timed time(Scorer scorer, VectorStore keys, float[][] queries) {
        long t0 = System.nanoTime();
        TopKResult result = head(scorer, keys, queries);
        double warmMs = (System.nanoTime() - t0) / 1e6;
        if (warmMs > options.maxCallSeconds() * 1e3) {
            return new Timed(warmMs, warmMs, 1, result);
        }
        int reps = options.reps() > 0 ? options.reps() : 3;
        double[] ms = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t = System.nanoTime();
            result = head(scorer, keys, queries);
            ms[r] = (System.nanoTime() - t) / 1e6;
        }
        Arrays.sort(ms);
        double median = reps % 2 == 1 ? ms[reps / 2] : (ms[reps / 2 - 1] + ms[reps / 2]) / 2;
        return new Timed(median, ms[0], reps, result);
    }

    /** Wall time per head of every store's head built at once, one thread each (after one untimed round). */
    private double concurrent(Scorer scorer, List<VectorStore> stores, float[][] queries)
            throws InterruptedException, ExecutionException {
        ExecutorService builders = Executors.newFixedThreadPool(stores.size());
        try {
            double perHead = 0;
            for (int round = 0; round < 2; round++) { // the first round makes each head resident
                long t0 = System.nanoTime();
                List<Future<TopKResult>> running = new ArrayList<>();
                for (VectorStore keys : stores) {
                    running.add(builders.submit(() -> head(scorer, keys, queries)));
                }
                for (Future<TopKResult> f : running) {
                    f.get();
                }
                perHead = (System.nanoTime() - t0) / 1e6 / stores.size();
            }
            out.printf(Locale.ROOT, "opencl, %d heads at once (one thread each): %.1f ms per head%n", stores.size(), perHead);
            return perHead;
        } finally {
            builders.shutdownNow();
        }
    }

    private Map<String, Object> row(String backend, int n, int d, Timed t, double flops, double simdMs, TopKResult simd) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("name", "build/" + backend + "/n=" + n + "/d=" + d + "/q=" + options.buildQueries() + "/k=" + options.k());
        row.put("backend", backend);
        row.put("device", t.result.device().toString());
        row.put("n", n);
        row.put("d", d);
        row.put("queries", options.buildQueries());
        row.put("k", options.k());
        row.put("ms_per_head", t.medianMs);
        row.put("ms_best", t.bestMs);
        row.put("reps", t.reps);
        row.put("gflops", flops / (t.medianMs * 1e6));
        if (Double.isFinite(simdMs)) {
            row.put("x_simd", simdMs / t.medianMs);
        }
        if (simd != null) {
            row.put("recall_vs_simd", ScorerBench.agreement(simd, t.result));
        }
        out.printf(Locale.ROOT, "%-6s %10.1f ms per head (best %.1f, %d reps)  %9.1f GFLOP/s  %s  recall vs simd %s  on %s%n",
                backend, t.medianMs, t.bestMs, t.reps, flops / (t.medianMs * 1e6),
                row.containsKey("x_simd") ? String.format(Locale.ROOT, "x%.1f simd", (Double) row.get("x_simd")) : "",
                row.containsKey("recall_vs_simd") ? String.format(Locale.ROOT, "%.5f", (Double) row.get("recall_vs_simd")) : "-",
                t.result.device());
        return row;
    }
}
