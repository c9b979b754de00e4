package dev.attend.bench;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.SimdScorer;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.recsys.serving.BehaviorSequenceStore;
import dev.attend.recsys.serving.Recommender;
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
import java.util.SplittableRandom;

/** {@code bench recsys --serving}: the latency of scoring candidates against stored histories, beside the host's own tail. */
final class RecsysServing {

    private RecsysServing() {
    }

    /** Candidates per request in the serving measurement. */
    static final int CANDIDATES = 1000;

    /**
     * Serving {@value #CANDIDATES} candidates against one user's stored history through {@link Recommender#score}
     * (source ids mapped to the model's, the user's attention keys cached per version of the sequence, one top-K
     * call for all candidates on the SIMD scorer, then softmax, weighted sum and the batched MLP), for histories of
     * {@code histories} behaviours (10^3 to 10^5 by default) and attention dimensions {@code attentionDims} (16 and
     * 64): p50 and p99 over 200 timed requests (50 at 10^5) after 3 s of warm-up, each request with new random
     * candidates. Weights are random: latency does not depend on them.
     * Then the host's baseline ({@link MachineInfo#fixedWorkLatency}): fixed SIMD work as long as a request at 10^4
     * behaviours (else 12 ms) on as many threads, timed the same way, whose p99 - p50 is the tail the machine adds
     * to any job that long.
     */
    static int measure(String scorerName, int threads, int[] histories, int[] attentionDims, Path json, PrintStream out,
                              PrintStream err) throws IOException {
        int items = 100_000;
        int categories = 1_000;
        SplittableRandom rnd = new SplittableRandom(7);
        // every item once (so that the catalog knows them all), by a user that is not measured
        List<BehaviorEvent> catalogEvents = new ArrayList<>();
        for (int i = 1; i <= items; i++) {
            catalogEvents.add(new BehaviorEvent(-1, i, i % categories, "pv", i));
        }
        ItemCatalog catalog = UserSequences.of(catalogEvents).catalog();
        List<Map<String, Object>> rows = new ArrayList<>();
        String scorerDevice;
        double rate = MachineInfo.multiplyAddRate();
        err.printf(Locale.ROOT, "[recsys] serving: %s, %d cores; one thread's SIMD multiply-adds now: %.1f x 10^9/s%n",
                MachineInfo.cpuModel(), Runtime.getRuntime().availableProcessors(), rate);
        out.printf(Locale.ROOT, "%-10s %-14s %10s %10s %10s%n", "history", "attention dim", "p50_ms", "p99_ms", "requests");
        try (Scorer scorer = scorerName.equals("simd") ? new SimdScorer(threads)
                : Scorers.create(scorerName)) {
            err.println("[recsys] search on " + scorer.device());
            scorerDevice = scorer.device().toString();
            for (int history : histories) {
                for (int da : attentionDims) {
                    SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, da, 64, 20, new int[] {200, 80}), items,
                            categories, 1);
                    try (BehaviorSequenceStore store = BehaviorSequenceStore.inMemory(BehaviorSequenceStore.DEFAULT_MAX_PER_USER);
                         Recommender recommender = new Recommender(model, catalog, store, scorer, Recommender.Options.defaults())) {
                        List<BehaviorEvent> events = new ArrayList<>(history);
                        for (int j = 0; j < history; j++) {
                            long item = 1 + rnd.nextInt(items);
                            events.add(new BehaviorEvent(1, item, item % categories, "pv", j));
                        }
                        store.append(events);
                        long[] candidates = new long[CANDIDATES];
                        // Steady state, as a server runs: at least 3 s and 50 requests of warm-up (JIT) before timing.
                        long warmUntil = System.nanoTime() + 3_000_000_000L;
                        for (int r = 0; r < 50 || System.nanoTime() < warmUntil; r++) {
                            randomItems(rnd, candidates, items);
                            recommender.score(1, candidates, null);
                        }
                        int timed = history >= 100_000 ? 50 : 200;
                        long[] nanos = new long[timed];
                        for (int r = 0; r < timed; r++) {
                            randomItems(rnd, candidates, items);
                            long t0 = System.nanoTime();
                            recommender.score(1, candidates, null);
                            nanos[r] = System.nanoTime() - t0;
                        }
                        Arrays.sort(nanos);
                        double p50 = nanos[timed / 2] / 1e6;
                        double p99 = nanos[(int) Math.ceil(0.99 * timed) - 1] / 1e6;
                        out.printf(Locale.ROOT, "%-10d %-14d %10.2f %10.2f %10d%n", history, da, p50, p99, timed);
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("history", history);
                        row.put("attention_dim", da);
                        row.put("candidates", CANDIDATES);
                        row.put("p50_ms", p50);
                        row.put("p99_ms", p99);
                        row.put("requests", timed);
                        rows.add(row);
                    }
                }
            }
        }
        // The baseline: fixed SIMD work as long as a request (the p50 at 10^4 behaviours, else 12 ms) on as many
        // threads, timed the same way. What its p99 adds to its p50 comes from the machine, not from the request.
        double baseMillis = rows.stream().filter(r -> (int) r.get("history") == 10_000).map(r -> (double) r.get("p50_ms")).findFirst()
                .orElse(12.0);
        double[] fixed = MachineInfo.fixedWorkLatency(threads, baseMillis, 200);
        out.printf(Locale.ROOT, "%-25s %10.2f %10.2f %10d   (fixed SIMD work sized for %.1f ms, no memory traffic: the host's own tail)%n",
                "baseline " + threads + " threads", fixed[0], fixed[1], 200, baseMillis);
        Map<String, Object> baseline = new LinkedHashMap<>();
        baseline.put("work", String.format(Locale.ROOT, "fixed SIMD multiply-adds in L1 on %d threads, sized for %.2f ms", threads,
                baseMillis));
        baseline.put("p50_ms", fixed[0]);
        baseline.put("p99_ms", fixed[1]);
        baseline.put("requests", 200);
        if (json != null) {
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("bench", "recsys-serving");
            report.put("host_baseline", baseline);
            report.put("machine", MachineInfo.describe());
            report.put("threads", threads);
            report.put("scorer", scorerDevice);
            report.put("machine_gmacs_per_thread", rate);
            report.put("rows", rows);
            Files.writeString(json, JsonWriter.write(report, 0));
        }
        return 0;
    }

    private static void randomItems(SplittableRandom rnd, long[] out, int items) {
        for (int i = 0; i < out.length; i++) {
            out[i] = 1 + rnd.nextInt(items);
        }
    }
}
