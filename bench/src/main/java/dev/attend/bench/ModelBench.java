package dev.attend.bench;

import dev.attend.bench.workload.OodParameters;
import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.KvDurability;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.KvSessionThreads;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A KV session of a whole model's shape: {@code bench model}. Llama-3-8B's by default (32 layers x 8 KV heads x 4 query
 * heads per KV head, d = 128) at 128K tokens: every KV head a synthetic out-of-distribution head ({@link ModelWorkload}),
 * prefilled layer by layer as an inference engine streams it, its index built in the background on as many threads as
 * cores ({@link KvSessionThreads}); then decoded token by token, one {@code decodeLayer} per layer carrying all its query
 * heads ({@link ModelSession}). With {@code --over-http} the same calls go to an {@code attend serve} started in this JVM
 * ({@link ModelServer}) over HTTP with binary bodies ({@link HttpModelKv}), and the server's own time per token is
 * reported beside the client's, so that the HTTP overhead shows, with the journal the server keeps. Reported: prefill time and prefill-to-ready (every KV head's index built), decode time per
 * token (all layers) p50/p99, keys scanned per attend, recall@100 (and output error, attention mass kept) of sampled query
 * heads against exact attention at a few decode steps, memory (the session's, its KV and indexes, the heap after a GC)
 * against the same KV in float16 (the bound is 1.25x); with {@code --sessions S}, S sessions built one after
 * another and decoded concurrently on S threads: aggregate tokens per second.
 */
@Command(name = "model", sortOptions = false,
        description = "A model-shaped KV session (default Llama-3-8B: 32 layers x 8 KV heads x 4 query heads, d = 128, 128K tokens) of "
                + "synthetic OOD heads: prefill-to-ready, decode per token, recall@100, memory against float16 KV.",
        customSynopsis = {
            "bench model [--layers 32] [--kv-heads 8] [--query-heads-per-kv 4] [--head-dim 128] [--tokens 131072]",
            "            [--dtype float16|float32] [--over-http [--durability process|fsync] [--data-dir DIR]] [--sessions S]",
            "            [--decode 64] [--warmup 4] [--recall-heads 4] [--train M] [--chunk 8192] [--params NAMES]",
            "            [--generate auto|ahead|per-layer] [--build-threads T] [--scorer simd] [--ready-timeout 3600] [--seed 1]",
            "            [--json FILE]"})
final class ModelBench extends BenchCommand {

    /** Float32 KV bytes above which the session stores float16 unless {@code --dtype} says otherwise. */
    static final long FLOAT16_DEFAULT_ABOVE = 1L << 30;
    /** Decode steps the recall is checked at (evenly spaced over the timed ones). */
    static final int CHECK_STEPS = 4;

    @Option(names = "--layers", paramLabel = "L", description = "Layers (default 32).")
    int layers = 32;

    @Option(names = "--kv-heads", paramLabel = "H", description = "KV heads per layer (default 8).")
    int kvHeads = 8;

    @Option(names = "--query-heads-per-kv", paramLabel = "G", description = "Query heads per KV head (default 4).")
    int group = 4;

    @Option(names = "--head-dim", paramLabel = "D", description = "Head dimension (default 128).")
    int headDim = 128;

    @Option(names = "--tokens", paramLabel = "N", description = "Prefill tokens per KV head (default 131072).")
    int tokens = 131_072;

    @Option(names = "--dtype", paramLabel = "float16|float32",
            description = "The session's KV storage (default float16 when the KV would take over 1 GiB in float32, else float32).")
    String dtype;

    @Option(names = "--over-http", description = "Prefill and decode through an attend serve started in this JVM, over HTTP on "
            + "loopback (binary bodies; prefill chunks within its 8 MiB body limit); reports its own time per token beside the client's.")
    boolean overHttp;

    @Option(names = "--durability", paramLabel = "process|fsync", description = "With --over-http: how the server's journal "
            + "acknowledges a write (default process: handed to the operating system; fsync: forced to disk). Sessions are always journaled.")
    String durability;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "With --over-http: where the server's data folder (its journals: "
            + "every key, value and prefill query in float32) is made, and deleted after (default the system's temporary directory).")
    Path dataDir;

    @Option(names = "--sessions", paramLabel = "S", description = "Sessions of this shape, built one after another, decoded "
            + "concurrently on S threads (default 1).")
    int sessions = 1;

    @Option(names = "--decode", paramLabel = "N", description = "Timed decode tokens per session (default 64).")
    int decode = 64;

    @Option(names = "--warmup", paramLabel = "W", description = "Untimed decode tokens before them (default 4).")
    int warmup = 4;

    @Option(names = "--recall-heads", paramLabel = "N", description = "Query heads (sampled over all layers) checked against exact "
            + "attention at " + CHECK_STEPS + " decode steps (default 4).")
    int recallHeads = 4;

    @Option(names = "--train", paramLabel = "M", description = "Prefill queries per KV head, split over its query heads (default: "
            + "what its index build projects, a quarter of --tokens).")
    Integer train;

    @Option(names = "--chunk", paramLabel = "T", description = "Tokens per prefill call (default 8192; more=true on all but a head's last).")
    int chunk = 8192;

    @Option(names = "--params", paramLabel = "NAMES", description = "The embedded OOD parameter sets KV heads take in turn (default all).")
    String params;

    @Option(names = "--generate", paramLabel = "auto|ahead|per-layer", description = "Generate every layer before the prefill "
            + "(ahead), or each just before its own (per-layer: less memory, generation shares the cores with the builds); "
            + "default ahead when it fits in 70%% of the heap.")
    String generate = "auto";

    @Option(names = "--build-threads", paramLabel = "T", description = "Index build threads (default: the cores).")
    int buildThreads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--scorer", paramLabel = "simd|auto|opencl|scalar", description = "The sessions' scorer (default simd).")
    String scorerName = "simd";

    @Option(names = "--ready-timeout", paramLabel = "S", description = "Seconds to wait for every index (default 3600).")
    long readyTimeout = 3600;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the generated heads and of the sampled query heads (default 1).")
    long seed = 1;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    ModelBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    static int run(String[] args, PrintStream out, PrintStream err) {
        return new ModelBench(out, err).execute(args);
    }

    @Override
    public Integer call() {
        int sinks = KvSessionConfig.defaults(1, 1, 1, 1).sinkTokens();
        int window = KvSessionConfig.defaults(1, 1, 1, 1).windowTokens();
        check(() -> {
            if (!overHttp && (durability != null || dataDir != null)) {
                throw new IllegalArgumentException("--durability and --data-dir go with --over-http");
            }
            if (layers < 1 || kvHeads < 1 || group < 1 || headDim < 1 || sessions < 1 || decode < 1 || warmup < 0 || recallHeads < 0
                    || chunk < 1 || buildThreads < 1 || readyTimeout < 1 || (train != null && train < 1)) {
                throw new IllegalArgumentException("--layers, --kv-heads, --query-heads-per-kv, --head-dim, --sessions, --decode, --chunk, "
                        + "--build-threads, --ready-timeout and --train must be >= 1, --warmup and --recall-heads >= 0");
            }
            if (tokens <= sinks + window) {
                throw new IllegalArgumentException("--tokens must be above the static set (" + sinks + " sinks + " + window
                        + " window), so that every KV head builds an index; got " + tokens);
            }
            if (!Set.of("auto", "ahead", "per-layer").contains(generate)) {
                throw new IllegalArgumentException("--generate must be auto, ahead or per-layer, got " + generate);
            }
        });
        Precision storage = checked(() -> storage(dtype, 8L * layers * kvHeads * tokens * headDim));
        KvDurability kvDurability = checked(() -> durability == null ? KvDurability.PROCESS : KvDurability.of(durability));
        Path serverParent = dataDir != null ? dataDir : Path.of(System.getProperty("java.io.tmpdir"));
        if (overHttp) { // the journal's room, before anything is generated
            check(() -> ModelServer.checkSpace(serverParent, ModelServer.journalEstimate(shape(storage), chunk, sessions)));
        }
        List<String> names = checked(() -> {
            List<String> n = params == null ? List.of() : Arrays.stream(params.split(",")).map(String::strip).toList();
            n.forEach(OodWorkloadGenerator::defaults); // validates
            return n;
        });
        try {
            Map<String, Object> report = measure(storage, names, overHttp ? kvDurability : null, serverParent);
            if (json != null) {
                Files.writeString(json, JsonWriter.write(report, 2) + "\n");
                err.println("[model] wrote " + json);
            }
            return 0;
        } catch (Exception e) {
            err.println("bench model: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    /** {@code --dtype}, or its default for a KV of {@code float32Bytes}. */
    static Precision storage(String dtype, long float32Bytes) {
        if (dtype == null) {
            return float32Bytes > FLOAT16_DEFAULT_ABOVE ? Precision.FLOAT16 : Precision.FLOAT32;
        }
        return switch (dtype) {
            case "float16" -> Precision.FLOAT16;
            case "float32" -> Precision.FLOAT32;
            default -> throw new IllegalArgumentException("--dtype must be float16 or float32, got " + dtype);
        };
    }

    /** The generated shape: prefill queries per KV head as {@code --train} says, or what an index build projects. */
    private ModelWorkload.Shape shape(Precision storage) {
        int trainPerKv = train != null ? train
                : (int) Math.ceil(AttentionAwareIndex.Params.DEFAULT_TRAINING_QUERIES_PER_KEY * tokens);
        return new ModelWorkload.Shape(layers, kvHeads, group, headDim, tokens, warmup + decode, trainPerKv, storage);
    }

    /** Builds, prefills, readies and decodes the sessions: over HTTP with {@code durability} (null: in process). */
    private Map<String, Object> measure(Precision storage, List<String> names, KvDurability durability, Path serverParent) throws Exception {
        ModelWorkload.Shape shape = shape(storage);
        long t0 = System.nanoTime();
        List<OodParameters> sets = ModelWorkload.parameterSets(names, headDim);
        float scale = sets.getFirst().scale();
        for (OodParameters p : sets) {
            if (Math.abs(p.scale() - scale) > 1e-6 * scale) {
                throw new IllegalArgumentException("the parameter sets' scales differ (" + p.source() + ": " + p.scale() + ", not " + scale
                        + "); one session has one scale");
            }
        }
        KvSessionConfig config = KvSessionConfig.defaults(layers, kvHeads, group, headDim).withScale(scale).withStorage(storage);
        boolean ahead = switch (generate) {
            case "ahead" -> true;
            case "per-layer" -> false;
            default -> sessions * sessionEstimate(shape) + layers * shape.layerBytes() < 0.7 * Runtime.getRuntime().maxMemory();
        };
        err.printf(Locale.ROOT, "[model] %s, %d cores; %d x %d layers x %d KV heads x %d query heads, d = %d, %,d tokens, %s; "
                        + "parameter sets at d = %d in %.1f s; generating %s%n", MachineInfo.cpuModel(), Runtime.getRuntime().availableProcessors(),
                sessions, layers, kvHeads, group, headDim, tokens, ModelReport.name(storage), headDim, (System.nanoTime() - t0) / 1e9,
                ahead ? "every layer ahead" : "each layer before its prefill");
        List<ModelSession> made = new ArrayList<>();
        try (TimedScorer scorer = new TimedScorer(Scorers.create(scorerName));
             KvSessionThreads threads = durability == null ? new KvSessionThreads("model-index", buildThreads) : null;
             ModelServer server = durability == null ? null : new ModelServer(serverParent, scorer, durability, buildThreads)) {
            int prefillChunk = server == null ? chunk : ModelServer.chunkTokens(shape, chunk, server.maxBodyBytes());
            err.printf(Locale.ROOT, "[model] scorer %s on %s (the index builds' exact top-k)%n", scorerName, scorer.device());
            if (server != null) {
                err.printf(Locale.ROOT, "[model] over HTTP: %s, data folder %s, durability %s (every write journaled), prefill chunks of %,d tokens%s%n",
                        server.url(), server.dir(), durability.wireName(), prefillChunk, prefillChunk < chunk ? " (the server's body limit)" : "");
            }
            try {
                for (int s = 0; s < sessions; s++) {
                    String id = "model-" + s;
                    ModelKv kv = server != null ? server.create(id, config)
                            : new InProcessModelKv(new KvSession(id, config, scorer, threads.builds(), threads.indexer()));
                    ModelSession m = new ModelSession(kv, new ModelWorkload(shape, sets, seed, s));
                    made.add(m);
                    m.prefill(ahead, prefillChunk, err);
                    err.printf(Locale.ROOT, "[model] %s: prefill %.1f s (in prefill calls %.1f s); waiting for the indexes%n", m.session().id(),
                            (m.prefillEnd - m.prefillStart) / 1e9, m.prefillNanos / 1e9);
                    m.awaitReady(readyTimeout, err);
                    err.printf(Locale.ROOT, "[model] %s: every KV head ready %.1f s after the prefill began%n", m.session().id(),
                            (m.readyAt - m.prefillStart) / 1e9);
                }
                Map<String, Object> report = decodeAndReport(made, new ModelReport.Run(shape, config, sets, ahead, decode, warmup, prefillChunk,
                        buildThreads, scorerName + " on " + scorer.device(), seed, server, scorer.rangeTopK()));
                ModelReport.print(out, report);
                return report;
            } finally {
                made.forEach(ModelSession::close);
            }
        }
    }

    /** Bytes one session holds at most: its KV, the prefill queries until its builds finish, indexes of about 24 links a key. */
    private static long sessionEstimate(ModelWorkload.Shape shape) {
        long heads = (long) shape.layers() * shape.kvHeads();
        return heads * ((long) (shape.tokens() + shape.steps()) * shape.headDim() * 2 * shape.storage().bytes()
                + (long) shape.trainPerKvHead() * shape.headDim() * 4 + (long) shape.tokens() * 24 * 4 * 3 / 2);
    }

    private Map<String, Object> decodeAndReport(List<ModelSession> made, ModelReport.Run run) throws Exception {
        List<int[]> checkHeads = sampledHeads();
        int k = Math.min(CHECK_STEPS, decode);
        int[] checkSteps = new int[k];
        Arrays.setAll(checkSteps, c -> (c + 1) * decode / k - 1);
        ModelSession.Decoded[] decoded = new ModelSession.Decoded[made.size()];
        long[] timedStart = new long[1];
        CyclicBarrier warmedUp = new CyclicBarrier(made.size(), () -> timedStart[0] = System.nanoTime());
        Throwable[] failure = new Throwable[1];
        List<Thread> decoders = new ArrayList<>();
        for (int s = 0; s < made.size(); s++) {
            int i = s;
            // Only the first session checks accuracy: the others' tokens are timed alone.
            Runnable work = () -> decoded[i] = made.get(i).decode(warmup, decode, i == 0 ? checkHeads : List.of(), checkSteps, () -> {
                try {
                    warmedUp.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread t = Thread.ofPlatform().name("model-decode-" + s).unstarted(() -> {
                try {
                    work.run();
                } catch (Throwable e) {
                    synchronized (failure) {
                        failure[0] = failure[0] == null ? e : failure[0];
                    }
                    warmedUp.reset(); // the others stop waiting
                }
            });
            decoders.add(t);
        }
        err.printf(Locale.ROOT, "[model] decoding %d + %d tokens on %d thread(s)%n", warmup, decode, made.size());
        decoders.forEach(Thread::start);
        for (Thread t : decoders) {
            t.join();
        }
        long timedEnd = System.nanoTime();
        if (failure[0] != null) {
            throw new IllegalStateException("decode failed: " + failure[0], failure[0]);
        }
        return ModelReport.of(run, made, decoded, (timedEnd - timedStart[0]) / 1e9);
    }

    /** {@code --recall-heads} distinct (layer, query head) pairs, drawn with {@code --seed}. */
    private List<int[]> sampledHeads() {
        int all = layers * kvHeads * group;
        SplittableRandom rnd = new SplittableRandom(seed);
        Set<Integer> chosen = new LinkedHashSet<>();
        while (chosen.size() < Math.min(recallHeads, all)) {
            chosen.add(rnd.nextInt(all));
        }
        return chosen.stream().map(i -> new int[] {i / (kvHeads * group), i % (kvHeads * group)}).toList();
    }
}
