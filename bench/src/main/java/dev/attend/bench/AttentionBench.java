package dev.attend.bench;

import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import dev.attend.gpu.ScoreMatrix;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.VectorStore;
import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.policy.AttentionAccuracy;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

/**
 * Retrieval attention during decoding: {@code bench attention}. For each workload (each head of each
 * {@code --kv} directory, each {@code --synthetic} size): prefill the first N - steps tokens (keys, values,
 * and queries to train the index), then decode: every step appends its token's key and value and attends
 * with its query. Each step is answered by
 * <ul>
 *   <li>full attention (exact, every key, by flat scan): the reference;
 *   <li>the static set alone (sinks and window, as StreamingLLM);
 *   <li>the static set + the exact top-k of the other keys (an oracle: what a perfect index would give);
 *   <li>one {@link KvSession} per retriever (static set + top-k from HNSW over the keys, or from the
 *       attention-aware index), each serving every k.
 * </ul>
 * Reported per mode: attention-mass recall (the true softmax weight of the keys used, {@code exp(lse_used -
 * lse_all)}), relative output error {@code ||o - o*|| / ||o*||}, recall@k of the exact top-k, keys scanned,
 * latency per step (p50, p99) on one thread, throughput of concurrent attends on {@code --threads} threads,
 * and each session's build time and memory.
 *
 * <p>The heads are {@link DecodeWorkload}s (synthetic ones from {@link OodWorkloadGenerator}, with values drawn
 * there); each mode's measurements an {@link AttentionMode}. Its command line is {@link AttentionCommand}.
 */
public final class AttentionBench {

    /** Decode queries the throughput pass spreads over the threads (the first steps' queries, at most). */
    static final int THROUGHPUT_QUERIES = 256;

    private AttentionBench() {
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return new AttentionCommand(out, err).execute(args);
    }

    /** Measures what {@code options} say; returns the exit status (0 ok, 1 failure). */
    static int run(AttentionOptions options, PrintStream out, PrintStream err) {
        List<Map<String, Object>> rows = new ArrayList<>();
        List<Map<String, Object>> sessions = new ArrayList<>();
        try (Scorer scorer = Scorers.create(options.scorer())) {
            err.printf(Locale.ROOT, "[attention] %s, %d cores, scorer %s%n", MachineInfo.cpuModel(),
                    Runtime.getRuntime().availableProcessors(), scorer.device());
            out.printf(Locale.ROOT, "%-30s %-30s %8s %8s %8s %8s %9s %9s %9s %10s%n", "head", "mode", "mass", "recall",
                    "err_med", "err_mean", "scanned%", "p50_us", "p99_us", "steps/s@" + options.threads());
            for (Path dir : options.kvDirs()) {
                List<String> names = options.heads().isEmpty() ? KvHead.heads(dir) : options.heads();
                for (String name : names) {
                    DecodeWorkload w = DecodeWorkload.fromHead(dir.getFileName() + "/" + name, KvHead.load(dir, name, Precision.FLOAT32),
                            options.steps());
                    measure(w, options, scorer, rows, sessions, out, err);
                }
            }
            for (int n : options.synthetic()) {
                String head = options.heads().isEmpty() ? OodWorkloadGenerator.DEFAULT_HEAD : options.heads().getFirst();
                measure(DecodeWorkload.synthetic(n, head, options, err), options, scorer, rows, sessions, out, err);
            }
        } catch (Exception e) {
            err.println("bench attention: " + e);
            e.printStackTrace(err);
            return 1;
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("bench", "attention");
        report.put("machine", MachineInfo.describe());
        report.put("budget_fractions", Arrays.stream(options.budgets()).boxed().toList());
        report.put("threads", options.threads());
        report.put("sessions", sessions);
        report.put("rows", rows);
        try {
            if (options.json() != null) {
                Files.writeString(options.json(), JsonWriter.write(report, 0));
            }
            if (options.plot() != null) {
                AttentionChart.write(rows, options.plot());
                err.println("[attention] wrote " + options.plot());
            }
        } catch (IOException e) {
            err.println("bench attention: cannot write the report: " + e);
            return 1;
        }
        return 0;
    }

    private static void measure(DecodeWorkload w, AttentionOptions o, Scorer scorer, List<Map<String, Object>> rows,
                                List<Map<String, Object>> sessionRows, PrintStream out, PrintStream err) throws Exception {
        int n = w.n();
        int prefill = w.prefill();
        int steps = w.decodeQueries().length;
        int d = w.keys().dim();
        if (prefill <= o.sinks() + o.window()) {
            throw new IllegalArgumentException(w.label() + ": " + n + " tokens leave no room to index after " + steps + " steps");
        }
        int staticSize = o.sinks() + o.window();
        List<KvSession> sessions = new ArrayList<>();
        List<AttentionMode> modes = new ArrayList<>();
        AttentionMode full = new AttentionMode("full (flat)", "full", 0);
        AttentionMode fixed = new AttentionMode("static only", "static", 0);
        modes.add(full);
        modes.add(fixed);
        List<AttentionMode> oracles = new ArrayList<>();
        for (int k : o.ks()) {
            AttentionMode m = new AttentionMode("static + exact top-" + k, "exact", k);
            oracles.add(m);
            modes.add(m);
        }
        try {
            float[][] keys = DecodeWorkload.rows(w.keys(), 0, prefill);
            float[][] values = DecodeWorkload.rows(w.values(), 0, prefill);
            for (KvSessionConfig.Retriever r : o.retrievers()) {
                KvSessionConfig config = KvSessionConfig.defaults(1, 1, 1, d).withStaticSet(o.sinks(), o.window())
                        .withTopK(o.ks()[0]).withScale(w.scale()).withRetriever(r);
                KvSession session = new KvSession(w.label() + " " + r.wireName(), config, scorer, Runnable::run);
                sessions.add(session);
                long t0 = System.nanoTime();
                try (BuildProgress progress = new BuildProgress(err, "[attention] " + r.wireName() + " build", session)) {
                    session.prefill(0, 0, 0, keys, values, w.prefillQueries());
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                KvSession.IndexState state = session.indexState(0, 0);
                err.printf(Locale.ROOT, "[attention] %s: %s prefill of %,d tokens, index built in %.1f s (%s, %,d keys, %.1f MiB)%n",
                        w.label(), r.wireName(), prefill, seconds, state.state(), state.indexedKeys(), state.indexBytes() / 1048576.0);
                Map<String, Object> s = new LinkedHashMap<>();
                s.put("head", w.label());
                s.put("retriever", r.wireName());
                s.put("n", n);
                s.put("prefill_tokens", prefill);
                s.put("prefill_queries", r == KvSessionConfig.Retriever.ATTENTION_AWARE ? w.prefillQueries().length : 0);
                s.put("build_seconds", seconds);
                s.put("index_bytes", state.indexBytes());
                s.put("kv_bytes", 2L * d * Float.BYTES * prefill);
                sessionRows.add(s);
                for (int k : o.ks()) {
                    for (double b : o.budgets()) {
                        int budget = (int) Math.max(2L * k, Math.round(b * n) - staticSize);
                        String name = "static + " + r.wireName() + " top-" + k
                                + (o.budgets().length > 1 ? String.format(Locale.ROOT, " @%.3g%%", 100 * b) : "");
                        modes.add(new AttentionMode(name, r.wireName(), k, session, budget, b));
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            sessions.forEach(KvSession::close);
            throw e;
        }
        try {
            decode(w, o, scorer, sessions, modes, full, fixed, oracles, err);
            throughput(w, o, modes);
            for (int i = 0; i < sessions.size(); i++) {
                sessionRows.get(sessionRows.size() - sessions.size() + i).put("memory_bytes_after_decode", sessions.get(i).memoryBytes());
            }
        } finally {
            sessions.forEach(KvSession::close);
        }
        for (AttentionMode m : modes) {
            Map<String, Object> row = m.row(w, n, steps);
            rows.add(row);
            out.printf(Locale.ROOT, "%-30s %-30s %8.4f %8.4f %8.4f %8.4f %9.2f %9d %9d %10.1f%n", w.label(), m.name,
                    row.get("mass_recall_mean"), row.get("recall_at_k_mean"), row.get("relative_error_median"),
                    row.get("relative_error_mean"), 100 * (double) row.get("scanned_fraction"), row.get("p50_us"),
                    row.get("p99_us"), m.throughput);
        }
    }

    private static void decode(DecodeWorkload w, AttentionOptions o, Scorer scorer, List<KvSession> sessions, List<AttentionMode> modes, AttentionMode full,
                               AttentionMode fixed, List<AttentionMode> oracles, PrintStream err) {
        int prefill = w.prefill();
        int steps = w.decodeQueries().length;
        int maxK = Arrays.stream(o.ks()).max().orElseThrow();
        long t0 = System.nanoTime();
        long lastReport = t0;
        for (int t = 0; t < steps; t++) {
            int pos = prefill + t;
            float[] q = w.decodeQueries()[t];
            float[] key = w.keys().row(pos);
            float[] value = w.values().row(pos);
            for (KvSession s : sessions) {
                s.append(0, 0, pos, key, value);
            }
            int len = pos + 1;
            long start = System.nanoTime();
            AttentionOutput exact = scorer.attend(q, w.keys(), w.values(), IntStream.range(0, len).toArray(), w.scale());
            long fullMicros = (System.nanoTime() - start) / 1000;
            full.record(1, 0, 1, fullMicros, len);

            int[] staticSet = staticSet(len, o.sinks(), o.window());
            start = System.nanoTime();
            AttentionOutput st = scorer.attend(q, w.keys(), w.values(), staticSet, w.scale());
            fixed.record(AttentionAccuracy.massKept(st.logSumExp(), exact.logSumExp()),
                    AttentionAccuracy.relativeError(st.output(), exact.output()), 0, (System.nanoTime() - start) / 1000,
                    staticSet.length);

            // The oracle: the exact top-k of the keys outside the static set, found by a flat scan.
            int from = Math.min(o.sinks(), len);
            int to = Math.max(from, len - o.window());
            int[] ranked = topK(scorer, q, w.keys(), from, to, maxK);
            int[][] truth = new int[o.ks().length][];
            for (int i = 0; i < o.ks().length; i++) {
                truth[i] = Arrays.copyOf(ranked, Math.min(o.ks()[i], ranked.length));
                int[] used = IntStream.concat(Arrays.stream(staticSet), Arrays.stream(truth[i])).toArray();
                AttentionOutput top = scorer.attend(q, w.keys(), w.values(), used, w.scale());
                oracles.get(i).record(AttentionAccuracy.massKept(top.logSumExp(), exact.logSumExp()),
                        AttentionAccuracy.relativeError(top.output(), exact.output()), 1, fullMicros, len);
            }
            for (AttentionMode m : modes) {
                if (m.session == null) {
                    continue;
                }
                int i = indexOf(o.ks(), m.k);
                AttendResult r = m.session.attend(0, 0, q, m.k, m.budget);
                m.record(AttentionAccuracy.massKept(r.logSumExp(), exact.logSumExp()),
                        AttentionAccuracy.relativeError(r.output(), exact.output()),
                        AttentionAccuracy.recall(r.retrieved(), truth[i]), r.stats().micros(), r.stats().keysScanned());
            }
            long now = System.nanoTime();
            if (now - lastReport > 10_000_000_000L) {
                err.printf(Locale.ROOT, "[attention] %s: decode step %d/%d (%.0f s)%n", w.label(), t + 1, steps, (now - t0) / 1e9);
                lastReport = now;
            }
        }
    }

    /** Concurrent attends on the decoded sessions (and full attention): steps per second on {@code --threads} threads. */
    private static void throughput(DecodeWorkload w, AttentionOptions o, List<AttentionMode> modes) throws Exception {
        int count = Math.min(THROUGHPUT_QUERIES, w.decodeQueries().length);
        ExecutorService pool = Executors.newFixedThreadPool(o.threads());
        try {
            for (AttentionMode m : modes) {
                // Full attention runs through a session's attendExact (as a service would answer it).
                KvSession session = !m.kind.equals("full") ? m.session
                        : modes.stream().filter(x -> x.session != null).map(x -> x.session).findFirst().orElse(null);
                if (session == null) {
                    continue;
                }
                KvSession s = session;
                AtomicInteger next = new AtomicInteger();
                long start = System.nanoTime();
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < o.threads(); t++) {
                    done.add(pool.submit(() -> {
                        for (int i; (i = next.getAndIncrement()) < count; ) {
                            float[] q = w.decodeQueries()[i];
                            if (m.k == 0) {
                                s.attendExact(0, 0, q);
                            } else {
                                s.attend(0, 0, q, m.k, m.budget);
                            }
                        }
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                m.throughput = count / ((System.nanoTime() - start) / 1e9);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Positions of the best {@code k} keys in {@code [from, to)} by inner product, best first. */
    private static int[] topK(Scorer scorer, float[] q, VectorStore keys, int from, int to, int k) {
        if (to <= from) {
            return new int[0];
        }
        ScoreMatrix scores = scorer.scores(new float[][] {q}, keys, from, to);
        TopKCollector best = new TopKCollector(Math.min(k, to - from));
        float[] s = scores.scores();
        for (int i = 0; i < to - from; i++) {
            best.offer(s[i], from + i);
        }
        return best.drain().ids();
    }

    private static int indexOf(int[] values, int v) {
        for (int i = 0; i < values.length; i++) {
            if (values[i] == v) {
                return i;
            }
        }
        throw new IllegalStateException(v + " not in " + Arrays.toString(values));
    }

    private static int[] staticSet(int len, int sinks, int window) {
        int s = Math.min(sinks, len);
        int from = Math.max(s, len - window);
        int[] out = new int[s + (len - from)];
        for (int i = 0; i < s; i++) {
            out[i] = i;
        }
        for (int i = from; i < len; i++) {
            out[s + i - from] = i;
        }
        return out;
    }
}
