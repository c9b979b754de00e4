package dev.attend.bench;

import dev.attend.bench.workload.OodParameters;
import dev.attend.gpu.OpenClScorer;
import dev.attend.gpu.Precision;
import dev.attend.gpu.SlotTotals;
import dev.attend.retrieval.KvSessionConfig;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The report of {@code bench model} ({@link ModelBench}): its JSON fields and its printed lines; over HTTP with the
 * server's own time per token, what HTTP adds per layer decode, and the server's journal.
 */
final class ModelReport {

    private ModelReport() {
    }

    /**
     * What was run: the shape and configuration, the parameter sets, whether every layer was generated ahead, timed and
     * warm-up tokens, prefill chunk, build threads, scorer and seed; the server over HTTP (null in process).
     */
    record Run(ModelWorkload.Shape shape, KvSessionConfig config, List<OodParameters> sets, boolean ahead, int decode, int warmup,
               int chunk, int buildThreads, String scorer, long seed, ModelServer server, TimedScorer.RangeTopK buildTopK) {
    }

    /**
     * The report of {@code run}'s sessions {@code made}, decoded as {@code decoded} says, the timed tokens of all of them
     * in {@code timedSeconds}.
     */
    static Map<String, Object> of(Run run, List<ModelSession> made, ModelSession.Decoded[] decoded, double timedSeconds) {
        ModelWorkload.Shape shape = run.shape();
        KvSessionConfig config = run.config();
        int decode = run.decode();
        int warmup = run.warmup();
        ModelSession first = made.getFirst();
        long[] tokenNanos = Arrays.stream(decoded).flatMapToLong(d -> Arrays.stream(d.tokenNanos())).sorted().toArray();
        long scanned = Arrays.stream(decoded).mapToLong(ModelSession.Decoded::keysScanned).sum();
        long attends = Arrays.stream(decoded).mapToLong(ModelSession.Decoded::attends).sum();
        boolean flatKnown = Arrays.stream(decoded).allMatch(d -> d.flatAnswers() >= 0);
        long flat = Arrays.stream(decoded).mapToLong(ModelSession.Decoded::flatAnswers).sum();
        List<Map<String, Object>> checks = decoded[0].checks();
        Map<String, Object> memory = first.memory();
        System.gc();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        double keysPerHead = shape.tokens() + warmup + decode / 2.0; // mean length of a head while timed

        Map<String, Object> r = new LinkedHashMap<>();
        r.put("bench", "model");
        r.put("machine", MachineInfo.describe());
        r.put("layers", shape.layers());
        r.put("kv_heads", shape.kvHeads());
        r.put("query_heads_per_kv", shape.group());
        r.put("head_dim", shape.headDim());
        r.put("tokens", shape.tokens());
        r.put("dtype", name(shape.storage()));
        r.put("sessions", made.size());
        r.put("transport", first.session().transport());
        r.put("decode", decode);
        r.put("warmup", warmup);
        r.put("train_queries_per_kv_head", shape.trainPerKvHead());
        r.put("query_streams", "one generator stream per query head (same parameters, own seed)");
        r.put("chunk_tokens", run.chunk());
        r.put("params", run.sets().stream().map(OodParameters::source).toList());
        r.put("scale", config.scale());
        r.put("sinks", config.sinkTokens());
        r.put("window", config.windowTokens());
        r.put("top_k", config.topK());
        r.put("budget", KvSessionConfig.defaultBudget((int) keysPerHead, config.topK()));
        r.put("generation", run.ahead() ? "ahead" : "per-layer");
        r.put("build_threads", run.buildThreads());
        r.put("scorer", run.scorer());
        r.put("seed", run.seed());
        r.put("generation_seconds", first.generationNanos / 1e9);
        r.put("prefill_seconds", (first.prefillEnd - first.prefillStart) / 1e9);
        r.put("prefill_call_seconds", first.prefillNanos / 1e9);
        r.put("prefill_to_ready_seconds", (first.readyAt - first.prefillStart) / 1e9);
        r.put("ready_after_prefill_seconds", (first.readyAt - first.prefillEnd) / 1e9);
        // The builds' exact top-k calls until every session was ready, against the build threads' time (each session's
        // builds run from its prefill's start to its ready, one session after another).
        double buildThreadSeconds = run.buildThreads() * made.stream().mapToDouble(m -> (m.readyAt - m.prefillStart) / 1e9).sum();
        if (first.cpuAtPrefillStart >= 0 && first.cpuAtReady > 0) {
            // Cores the process kept busy from the first session's prefill to its ready: near the machine's count, the
            // builds are bound by the cores; far below it, by something they wait on (the device, its slots, locks).
            double cpuSeconds = (first.cpuAtReady - first.cpuAtPrefillStart) / 1e9;
            r.put("build_cpu_seconds", cpuSeconds);
            r.put("build_cores_busy", cpuSeconds / ((first.readyAt - first.prefillStart) / 1e9));
        }
        r.put("build_topk_calls", run.buildTopK().calls());
        r.put("build_topk_queries", run.buildTopK().queries());
        r.put("build_topk_thread_seconds", run.buildTopK().threadSeconds());
        r.put("build_topk_share_of_build_threads", run.buildTopK().threadSeconds() / buildThreadSeconds);
        SlotTotals slots = run.buildTopK().slots();
        if (slots != null && slots.calls() > 0) {
            // Against the slots' time to ready: held near all of it with kernels far below says the slots, not the device, bound the builds.
            double slotSeconds = OpenClScorer.DEFAULT_BUILD_SLOTS * buildThreadSeconds / run.buildThreads();
            r.put("build_slots", OpenClScorer.DEFAULT_BUILD_SLOTS);
            r.put("build_slot_calls", slots.calls());
            r.put("build_slot_launches", slots.launches());
            r.put("build_slot_launch_seconds", slots.launchSeconds());
            r.put("build_slot_held_seconds", slots.heldSeconds());
            r.put("build_slot_held_share", slots.heldSeconds() / slotSeconds);
            r.put("build_slot_wait_seconds", slots.waitSeconds());
            r.put("build_topk_layout_seconds", slots.layoutSeconds());
            r.put("build_topk_merge_seconds", slots.mergeSeconds());
        }
        r.put("heads", shape.layers() * shape.kvHeads());
        r.put("heads_ready", first.readyHeads());
        r.put("ready_curve", first.readyCurve.stream().map(p -> List.of(p[0], (int) p[1])).toList());
        r.put("decode_ms_p50", percentile(tokenNanos, 0.5) / 1e6);
        r.put("decode_ms_p99", percentile(tokenNanos, 0.99) / 1e6);
        r.put("decode_ms_mean", Arrays.stream(tokenNanos).average().orElse(Double.NaN) / 1e6);
        if (decoded.length == 1 && decoded[0].cpuNanos() > 0) {
            // Cores busy while a token decodes: below the machine's count, threads sit idle within a token (a layer's last
            // search, helpers' wake-ups, the layer's serial steps; longest-first claims did not change it on the H100 machine).
            r.put("decode_cores_busy", decoded[0].cpuNanos() / (double) Arrays.stream(decoded[0].tokenNanos()).sum());
        }
        r.put("keys_scanned_per_attend", (double) scanned / attends);
        r.put("scanned_fraction", scanned / (double) attends / keysPerHead);
        r.put("flat_answers", flatKnown ? flat : null); // a binary answer over HTTP does not say
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
        if (run.server() != null) {
            overHttp(r, run.server(), decoded, tokenNanos, shape.layers());
        }
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
                e.put("session_bytes", m.session().memory().sessionBytes());
                each.add(e);
            }
            r.put("per_session", each);
        }
        return r;
    }

    /**
     * The over-HTTP figures: the server's own time per token (its layer decodes' {@code Server-Timing} summed), what
     * HTTP adds per layer decode (the client's time less the server's), the server's durability and journal.
     */
    private static void overHttp(Map<String, Object> r, ModelServer server, ModelSession.Decoded[] decoded, long[] tokenNanos, int layers) {
        long[] serverNanos = Arrays.stream(decoded).flatMapToLong(d -> Arrays.stream(d.serverNanos())).sorted().toArray();
        double client = Arrays.stream(tokenNanos).average().orElse(Double.NaN);
        double serverMean = Arrays.stream(serverNanos).average().orElse(Double.NaN);
        r.put("server_ms_p50", percentile(serverNanos, 0.5) / 1e6);
        r.put("server_ms_p99", percentile(serverNanos, 0.99) / 1e6);
        r.put("server_ms_mean", serverMean / 1e6);
        r.put("http_overhead_ms_per_layer_call", (client - serverMean) / layers / 1e6);
        r.put("durability", server.durability().wireName());
        r.put("journal_bytes", server.journalBytes());
        r.put("data_dir", server.dir().toString());
    }

    /** The report's lines. */
    static void print(PrintStream out, Map<String, Object> r) {
        double mib = 1 << 20;
        out.printf(Locale.ROOT, "model: %d session(s) of %d layers x %d KV heads x %d query heads, d = %d, %,d tokens, %s, %s%n",
                r.get("sessions"), r.get("layers"), r.get("kv_heads"), r.get("query_heads_per_kv"), r.get("head_dim"), r.get("tokens"),
                r.get("dtype"), r.get("params"));
        out.printf(Locale.ROOT, "  %-24s %10.1f s  (%.1f s in prefill calls; generated %s in %.1f s)%n", "prefill", r.get("prefill_seconds"),
                r.get("prefill_call_seconds"), r.get("generation").equals("ahead") ? "ahead" : "layer by layer, within the prefill,",
                r.get("generation_seconds"));
        out.printf(Locale.ROOT, "  %-24s %10.1f s  (%.1f s after the last prefill; %d of %d KV heads ready)%n", "prefill to ready",
                r.get("prefill_to_ready_seconds"), r.get("ready_after_prefill_seconds"), r.get("heads_ready"), r.get("heads"));
        out.printf(Locale.ROOT, "  %-24s %10.1f s  in exact top-k calls, summed over the build threads (%.0f%% of %d threads x time to ready; "
                        + "%,d calls, %,d queries)%n", "  of which top-k", r.get("build_topk_thread_seconds"),
                100 * (double) r.get("build_topk_share_of_build_threads"), r.get("build_threads"), r.get("build_topk_calls"),
                r.get("build_topk_queries"));
        if (r.containsKey("build_cores_busy")) {
            out.printf(Locale.ROOT, "  %-24s %10.1f    on average from the prefill's start to ready (%.0f CPU seconds; the machine has %s)%n",
                    "  cores busy", r.get("build_cores_busy"), r.get("build_cpu_seconds"), ((Map<?, ?>) r.get("machine")).get("cores"));
        }
        if (r.containsKey("build_slot_calls")) {
            out.printf(Locale.ROOT, "  %-24s %10.1f s  in %,d launches and their lists' copies; slots held %.1f s (%.0f%% of %d slots x "
                            + "time to ready), waited for %.1f s; before the slot %.1f s laying out, after it %.1f s merging%n", "  on the device",
                    r.get("build_slot_launch_seconds"), r.get("build_slot_launches"), r.get("build_slot_held_seconds"),
                    100 * (double) r.get("build_slot_held_share"), r.get("build_slots"), r.get("build_slot_wait_seconds"),
                    r.get("build_topk_layout_seconds"), r.get("build_topk_merge_seconds"));
        }
        out.printf(Locale.ROOT, "  %-24s %10.2f ms p50, %.2f ms p99, %.2f ms mean (%d layers, %d timed tokens)%n", "decode per token",
                r.get("decode_ms_p50"), r.get("decode_ms_p99"), r.get("decode_ms_mean"), r.get("layers"), r.get("decode"));
        if (r.containsKey("decode_cores_busy")) {
            out.printf(Locale.ROOT, "  %-24s %10.1f    on average while a token decodes%n", "  cores busy", r.get("decode_cores_busy"));
        }
        if (r.containsKey("server_ms_p50")) {
            out.printf(Locale.ROOT, "  %-24s %10.2f ms p50, %.2f ms p99, %.2f ms mean (the server's own time of the %d decode-layer calls); "
                            + "HTTP adds %.3f ms per call%n", "  of which server", r.get("server_ms_p50"), r.get("server_ms_p99"), r.get("server_ms_mean"),
                    r.get("layers"), r.get("http_overhead_ms_per_layer_call"));
        }
        out.printf(Locale.ROOT, "  %-24s %10.0f     (%.2f%% of a head's keys, budget %d; %s flat answers)%n", "keys scanned per attend",
                r.get("keys_scanned_per_attend"), 100 * (double) r.get("scanned_fraction"), r.get("budget"),
                r.get("flat_answers") == null ? "over HTTP: no count of" : r.get("flat_answers"));
        out.printf(Locale.ROOT, "  %-24s %10.3f     median (min %.3f; %d checks); output error %.4f, mass kept %.4f (medians)%n",
                "recall@" + r.get("top_k"), r.get("recall_at_100_median"), r.get("recall_at_100_min"), ((List<?>) r.get("checks")).size(),
                r.get("relative_error_median"), r.get("mass_kept_median"));
        out.printf(Locale.ROOT, "  %-24s %10.1f MiB (%.3fx its KV in float16, %.1f MiB; KV held %.1f MiB, indexes %.1f MiB); heap after GC %.1f MiB%n",
                "session memory", (long) r.get("session_bytes") / mib, r.get("memory_ratio_to_float16_kv"), (long) r.get("float16_kv_bytes") / mib,
                (long) r.get("kv_bytes") / mib, (long) r.get("index_bytes") / mib, (long) r.get("heap_used_after_gc_bytes") / mib);
        out.printf(Locale.ROOT, "  %-24s %10.1f tokens/s over %d session(s)%n", "aggregate decode", r.get("aggregate_tokens_per_s"), r.get("sessions"));
        if (r.containsKey("journal_bytes")) {
            out.printf(Locale.ROOT, "  %-24s %10.1f MiB (durability %s: every prefill and decoded token journaled in float32; %s)%n",
                    "server journal", (long) r.get("journal_bytes") / mib, r.get("durability"), r.get("data_dir"));
        }
    }


    static String name(Precision p) {
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
