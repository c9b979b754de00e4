package dev.attend.bench;

import dev.attend.bench.workload.OodParameters;
import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.KvSessionThreads;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
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
 * heads ({@link ModelSession}). Reported: prefill time and prefill-to-ready (every KV head's index built), decode time per
 * token (all layers) p50/p99, keys scanned per attend, recall@100 (and output error, attention mass kept) of sampled query
 * heads against exact attention at a few decode steps, memory (the session's, its KV and indexes, the heap after a GC)
 * against the same KV in float16 (the issue's bound is 1.25x); with {@code --sessions S}, S sessions built one after
 * another and decoded concurrently on S threads: aggregate tokens per second.
 */
@Command(name = "model", sortOptions = false,
        description = "A model-shaped KV session (default Llama-3-8B: 32 layers x 8 KV heads x 4 query heads, d = 128, 128K tokens) of "
                + "synthetic OOD heads: prefill-to-ready, decode per token, recall@100, memory against float16 KV.",
        customSynopsis = {
            "bench model [--layers 32] [--kv-heads 8] [--query-heads-per-kv 4] [--head-dim 128] [--tokens 131072]",
            "            [--dtype float16|float32] [--over-http] [--sessions S] [--decode 64] [--warmup 4] [--recall-heads 4]",
            "            [--train M] [--chunk 8192] [--params NAMES] [--generate auto|ahead|per-layer] [--build-threads T]",
            "            [--scorer simd] [--ready-timeout 3600] [--seed 1] [--json FILE]"})
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

    @Option(names = "--over-http", description = "Decode through an in-process server over HTTP (not yet: exits 2).")
    boolean overHttp;

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
            if (overHttp) {
                throw new IllegalArgumentException("--over-http is not yet supported: lm's HttpAttention creates float32 sessions and "
                        + "prefills from a ByteLm prefill (every query of every token), neither of which fits a model-sized session");
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
        List<String> names = checked(() -> {
            List<String> n = params == null ? List.of() : Arrays.stream(params.split(",")).map(String::strip).toList();
            n.forEach(OodWorkloadGenerator::defaults); // validates
            return n;
        });
        try {
            Map<String, Object> report = measure(storage, names);
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

    private Map<String, Object> measure(Precision storage, List<String> names) throws Exception {
        int trainPerKv = train != null ? train
                : (int) Math.ceil(AttentionAwareIndex.Params.DEFAULT_TRAINING_QUERIES_PER_KEY * tokens);
        ModelWorkload.Shape shape = new ModelWorkload.Shape(layers, kvHeads, group, headDim, tokens, warmup + decode, trainPerKv, storage);
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
                sessions, layers, kvHeads, group, headDim, tokens, name(storage), headDim, (System.nanoTime() - t0) / 1e9,
                ahead ? "every layer ahead" : "each layer before its prefill");
        List<ModelSession> made = new ArrayList<>();
        try (Scorer scorer = Scorers.create(scorerName); KvSessionThreads threads = new KvSessionThreads("model-index", buildThreads)) {
            try {
                for (int s = 0; s < sessions; s++) {
                    ModelSession m = new ModelSession("model-" + s, config, scorer, threads, new ModelWorkload(shape, sets, seed, s));
                    made.add(m);
                    m.prefill(ahead, chunk, err);
                    err.printf(Locale.ROOT, "[model] %s: prefill %.1f s (in prefill calls %.1f s); waiting for the indexes%n", m.session().id(),
                            (m.prefillEnd - m.prefillStart) / 1e9, m.prefillNanos / 1e9);
                    m.awaitReady(readyTimeout, err);
                    err.printf(Locale.ROOT, "[model] %s: every KV head ready %.1f s after the prefill began%n", m.session().id(),
                            (m.readyAt - m.prefillStart) / 1e9);
                }
                return decodeAndReport(made, shape, config, sets, ahead);
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

    private Map<String, Object> decodeAndReport(List<ModelSession> made, ModelWorkload.Shape shape, KvSessionConfig config,
                                                List<OodParameters> sets, boolean ahead) throws Exception {
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
        return report(made, decoded, (timedEnd - timedStart[0]) / 1e9, shape, config, sets, ahead);
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

    private Map<String, Object> report(List<ModelSession> made, ModelSession.Decoded[] decoded, double timedSeconds,
                                       ModelWorkload.Shape shape, KvSessionConfig config, List<OodParameters> sets, boolean ahead) {
        ModelSession first = made.getFirst();
        long[] tokenNanos = Arrays.stream(decoded).flatMapToLong(d -> Arrays.stream(d.tokenNanos())).sorted().toArray();
        long scanned = Arrays.stream(decoded).mapToLong(ModelSession.Decoded::keysScanned).sum();
        long attends = Arrays.stream(decoded).mapToLong(ModelSession.Decoded::attends).sum();
        long flat = Arrays.stream(decoded).mapToLong(ModelSession.Decoded::flatAnswers).sum();
        List<Map<String, Object>> checks = decoded[0].checks();
        Map<String, Object> memory = first.memory();
        System.gc();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        double keysPerHead = tokens + warmup + decode / 2.0; // mean length of a head while timed

        Map<String, Object> r = new LinkedHashMap<>();
        r.put("bench", "model");
        r.put("machine", MachineInfo.describe());
        r.put("layers", layers);
        r.put("kv_heads", kvHeads);
        r.put("query_heads_per_kv", group);
        r.put("head_dim", headDim);
        r.put("tokens", tokens);
        r.put("dtype", name(shape.storage()));
        r.put("sessions", made.size());
        r.put("decode", decode);
        r.put("warmup", warmup);
        r.put("train_queries_per_kv_head", shape.trainPerKvHead());
        r.put("query_streams", "one generator stream per query head (same parameters, own seed)");
        r.put("chunk_tokens", chunk);
        r.put("params", sets.stream().map(OodParameters::source).toList());
        r.put("scale", config.scale());
        r.put("sinks", config.sinkTokens());
        r.put("window", config.windowTokens());
        r.put("top_k", config.topK());
        r.put("budget", KvSessionConfig.defaultBudget((int) keysPerHead, config.topK()));
        r.put("generation", ahead ? "ahead" : "per-layer");
        r.put("build_threads", buildThreads);
        r.put("scorer", scorerName);
        r.put("seed", seed);
        r.put("generation_seconds", first.generationNanos / 1e9);
        r.put("prefill_seconds", (first.prefillEnd - first.prefillStart) / 1e9);
        r.put("prefill_call_seconds", first.prefillNanos / 1e9);
        r.put("prefill_to_ready_seconds", (first.readyAt - first.prefillStart) / 1e9);
        r.put("ready_after_prefill_seconds", (first.readyAt - first.prefillEnd) / 1e9);
        r.put("heads", layers * kvHeads);
        r.put("heads_ready", first.readyHeads());
        r.put("decode_ms_p50", percentile(tokenNanos, 0.5) / 1e6);
        r.put("decode_ms_p99", percentile(tokenNanos, 0.99) / 1e6);
        r.put("decode_ms_mean", Arrays.stream(tokenNanos).average().orElse(Double.NaN) / 1e6);
        r.put("keys_scanned_per_attend", (double) scanned / attends);
        r.put("scanned_fraction", scanned / (double) attends / keysPerHead);
        r.put("flat_answers", flat);
        r.put("recall_at_100_median", median(checks, "key_recall"));
        r.put("recall_at_100_min", checks.stream().mapToDouble(c -> (double) c.get("key_recall")).min().orElse(Double.NaN));
        r.put("relative_error_median", median(checks, "relative_error"));
        r.put("mass_kept_median", median(checks, "mass_kept"));
        r.put("checks", checks);
        r.put("session_bytes", memory.get("session_bytes"));
        r.put("kv_bytes", memory.get("kv_bytes"));
        r.put("index_bytes", memory.get("index_bytes"));
        r.put("float16_kv_bytes", memory.get("float16_kv_bytes"));
        r.put("memory_ratio_to_float16_kv", memory.get("ratio_to_float16_kv"));
        r.put("heap_used_after_gc_bytes", heap);
        r.put("aggregate_tokens_per_s", made.size() * decode / timedSeconds);
        if (made.size() > 1) {
            List<Map<String, Object>> each = new ArrayList<>();
            for (int s = 0; s < made.size(); s++) {
                ModelSession m = made.get(s);
                long[] t = decoded[s].tokenNanos().clone();
                Arrays.sort(t);
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("prefill_seconds", (m.prefillEnd - m.prefillStart) / 1e9);
                e.put("prefill_to_ready_seconds", (m.readyAt - m.prefillStart) / 1e9);
                e.put("decode_ms_p50", percentile(t, 0.5) / 1e6);
                e.put("session_bytes", m.session().memoryBytes());
                each.add(e);
            }
            r.put("per_session", each);
        }
        print(r);
        return r;
    }

    private void print(Map<String, Object> r) {
        double mib = 1 << 20;
        out.printf(Locale.ROOT, "model: %d session(s) of %d layers x %d KV heads x %d query heads, d = %d, %,d tokens, %s, %s%n",
                r.get("sessions"), layers, kvHeads, group, headDim, tokens, r.get("dtype"), r.get("params"));
        out.printf(Locale.ROOT, "  %-24s %10.1f s  (%.1f s in prefill calls; generated %s in %.1f s)%n", "prefill", r.get("prefill_seconds"),
                r.get("prefill_call_seconds"), r.get("generation").equals("ahead") ? "ahead" : "layer by layer, within the prefill,",
                r.get("generation_seconds"));
        out.printf(Locale.ROOT, "  %-24s %10.1f s  (%.1f s after the last prefill; %d of %d KV heads ready)%n", "prefill to ready",
                r.get("prefill_to_ready_seconds"), r.get("ready_after_prefill_seconds"), r.get("heads_ready"), r.get("heads"));
        out.printf(Locale.ROOT, "  %-24s %10.2f ms p50, %.2f ms p99, %.2f ms mean (%d layers, %d timed tokens)%n", "decode per token",
                r.get("decode_ms_p50"), r.get("decode_ms_p99"), r.get("decode_ms_mean"), layers, decode);
        out.printf(Locale.ROOT, "  %-24s %10.0f     (%.2f%% of a head's keys, budget %d; %d flat answers)%n", "keys scanned per attend",
                r.get("keys_scanned_per_attend"), 100 * (double) r.get("scanned_fraction"), r.get("budget"), r.get("flat_answers"));
        out.printf(Locale.ROOT, "  %-24s %10.3f     median (min %.3f; %d checks); output error %.4f, mass kept %.4f (medians)%n",
                "recall@" + r.get("top_k"), r.get("recall_at_100_median"), r.get("recall_at_100_min"), ((List<?>) r.get("checks")).size(),
                r.get("relative_error_median"), r.get("mass_kept_median"));
        out.printf(Locale.ROOT, "  %-24s %10.1f MiB (%.3fx its KV in float16, %.1f MiB; KV held %.1f MiB, indexes %.1f MiB); heap after GC %.1f MiB%n",
                "session memory", (long) r.get("session_bytes") / mib, r.get("memory_ratio_to_float16_kv"), (long) r.get("float16_kv_bytes") / mib,
                (long) r.get("kv_bytes") / mib, (long) r.get("index_bytes") / mib, (long) r.get("heap_used_after_gc_bytes") / mib);
        out.printf(Locale.ROOT, "  %-24s %10.1f tokens/s over %d session(s)%n", "aggregate decode", r.get("aggregate_tokens_per_s"), r.get("sessions"));
    }

    private static String name(Precision p) {
        return p == Precision.FLOAT16 ? "float16" : "float32";
    }

    /** The {@code q} quantile of sorted values (nearest rank). */
    private static double percentile(long[] sorted, double q) {
        return sorted.length == 0 ? Double.NaN : sorted[Math.max(0, (int) Math.ceil(q * sorted.length) - 1)];
    }

    private static double median(List<Map<String, Object>> checks, String field) {
        double[] v = checks.stream().mapToDouble(c -> (double) c.get(field)).sorted().toArray();
        return v.length == 0 ? Double.NaN : (v[(v.length - 1) / 2] + v[v.length / 2]) / 2;
    }
}
