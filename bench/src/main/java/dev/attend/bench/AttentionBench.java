package dev.attend.bench;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.AttentionAccuracy;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Retrieval attention during decoding: {@code bench attention}. For each head of each {@code --kv}
 * directory: prefill the first N - steps tokens (keys, values, and their queries to train the index),
 * then decode: every step appends its token's key and value and attends with its query. Each step is
 * answered by full attention (exact, every key), by the static set alone (sinks and window, as
 * StreamingLLM), and by one {@link KvSession} for every k (static set + attention-aware top-k). Reported per
 * mode: attention-mass recall (the true softmax weight of the keys used, {@code exp(lse_used -
 * lse_all)}), relative output error {@code ||o - o*|| / ||o*||}, keys scanned, and latency per step
 * (p50, p99) on one thread.
 */
public final class AttentionBench {

    static final String USAGE = """
            usage: bench attention --kv DIR [--kv DIR]... [--head NAMES] [--steps 1024] [--k 100,2000]
                                   [--budget 0.03] [--sinks 128] [--window 512] [--scorer auto] [--json FILE]
              --kv DIR     a KV directory (meta.json + {head}.{q,k,v}.npy); the first N - steps tokens are prefilled
              --budget F   distance computations per index search, as a fraction of N (at least 2k)""";

    private AttentionBench() {
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        List<Path> dirs = new ArrayList<>();
        List<String> heads = List.of();
        int steps = 1024;
        int[] ks = {100, 2000};
        double budget = 0.03;
        int sinks = 128;
        int window = 512;
        String scorerName = "auto";
        Path json = null;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--help") || a.equals("-h")) {
                    out.println(USAGE);
                    return 0;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + " needs a value");
                }
                String v = args[++i];
                switch (a) {
                    case "--kv" -> dirs.add(Path.of(v));
                    case "--head" -> heads = Arrays.asList(v.split(","));
                    case "--steps" -> steps = Integer.parseInt(v);
                    case "--k" -> ks = Arrays.stream(v.split(",")).mapToInt(Integer::parseInt).toArray();
                    case "--budget" -> budget = Double.parseDouble(v);
                    case "--sinks" -> sinks = Integer.parseInt(v);
                    case "--window" -> window = Integer.parseInt(v);
                    case "--scorer" -> scorerName = v;
                    case "--json" -> json = Path.of(v);
                    default -> throw new IllegalArgumentException("unknown option '" + a + "'");
                }
            }
            if (dirs.isEmpty()) {
                throw new IllegalArgumentException("give --kv DIR");
            }
            if (steps < 1 || !(budget > 0) || sinks < 0 || window < 0) {
                throw new IllegalArgumentException("--steps must be >= 1, --budget > 0, --sinks and --window >= 0");
            }
        } catch (IllegalArgumentException e) {
            err.println("bench attention: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Scorer scorer = Scorers.create(scorerName)) {
            err.printf(Locale.ROOT, "[attention] %s, %d cores, scorer %s%n", MachineInfo.cpuModel(),
                    Runtime.getRuntime().availableProcessors(), scorer.device());
            out.printf(Locale.ROOT, "%-28s %-22s %9s %9s %9s %9s %9s %9s%n", "head", "mode", "mass", "err_med",
                    "err_mean", "scanned%", "p50_us", "p99_us");
            for (Path dir : dirs) {
                List<String> names = heads.isEmpty() ? KvHead.heads(dir) : heads;
                for (String name : names) {
                    KvHead head = KvHead.load(dir, name, Precision.FLOAT32);
                    rows.addAll(measure(dir.getFileName() + "/" + name, head, steps, ks, budget, sinks, window, scorer, out, err));
                }
            }
        } catch (Exception e) {
            err.println("bench attention: " + e);
            e.printStackTrace(err);
            return 1;
        }
        if (json != null) {
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("bench", "attention");
            report.put("machine", MachineInfo.describe());
            report.put("rows", rows);
            try {
                Files.writeString(json, Json.write(report, 0));
            } catch (java.io.IOException e) {
                err.println("bench attention: cannot write " + json + ": " + e);
                return 1;
            }
        }
        return 0;
    }

    /** Per-step measurements of one mode. */
    private static final class Mode {
        final String name;
        final List<Double> mass = new ArrayList<>();
        final List<Double> error = new ArrayList<>();
        final List<Long> micros = new ArrayList<>();
        long scanned;

        Mode(String name) {
            this.name = name;
        }
    }

    private static List<Map<String, Object>> measure(String label, KvHead head, int steps, int[] ks, double budgetFraction,
                                                     int sinks, int window, Scorer scorer, PrintStream out, PrintStream err) {
        int n = head.keys().size();
        int prefill = n - steps;
        if (prefill <= sinks + window) {
            throw new IllegalArgumentException(label + ": " + n + " tokens leave no room to index after " + steps + " steps");
        }
        int d = head.keys().dim();
        float[][] keys = rows(head.keys(), 0, prefill);
        float[][] values = rows(head.values(), 0, prefill);
        float[][] queries = rows(head.queries(), 0, prefill);
        List<Mode> modes = new ArrayList<>();
        Mode full = new Mode("full (flat)");
        Mode fixed = new Mode("static only");
        modes.add(full);
        modes.add(fixed);
        int[] budgets = new int[ks.length];
        for (int i = 0; i < ks.length; i++) {
            budgets[i] = (int) Math.max(2L * ks[i], Math.round(budgetFraction * n));
            modes.add(new Mode("static + top-" + ks[i]));
        }
        // One session: its index serves every k (KvSession.attend takes k per call).
        KvSessionConfig config = new KvSessionConfig(1, 1, 1, d, sinks, window, ks[0], head.scale(),
                AttentionAwareIndex.Params.defaults(), Precision.FLOAT32);
        try (KvSession session = new KvSession(label, config, scorer, Runnable::run)) {
            long t0 = System.nanoTime();
            session.prefill(0, 0, 0, keys, values, queries);
            err.printf(Locale.ROOT, "[attention] %s: prefill of %d tokens, index built in %.1f s (%s, %d keys)%n",
                    label, prefill, (System.nanoTime() - t0) / 1e9, session.indexState(0, 0).state(),
                    session.indexState(0, 0).indexedKeys());
            for (int t = 0; t < steps; t++) {
                int pos = prefill + t;
                float[] q = head.queries().row(pos);
                session.append(0, 0, pos, head.keys().row(pos), head.values().row(pos));
                AttendResult exact = session.attendExact(0, 0, q);
                record(full, exact, exact);
                long start = System.nanoTime();
                int[] staticSet = staticSet(pos + 1, sinks, window);
                AttentionOutput st = scorer.attend(q, head.keys(), head.values(), staticSet, head.scale());
                fixed.micros.add((System.nanoTime() - start) / 1000);
                fixed.scanned += staticSet.length;
                fixed.mass.add(AttentionAccuracy.massKept(st.logSumExp(), exact.logSumExp()));
                fixed.error.add(AttentionAccuracy.relativeError(st.output(), exact.output()));
                for (int i = 0; i < ks.length; i++) {
                    record(modes.get(2 + i), session.attend(0, 0, q, ks[i], budgets[i]), exact);
                }
            }
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Mode m : modes) {
            double mass = m.mass.stream().mapToDouble(Double::doubleValue).average().orElse(0);
            double[] errs = m.error.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            long[] us = m.micros.stream().mapToLong(Long::longValue).sorted().toArray();
            double scanned = (double) m.scanned / steps / n;
            double errMean = Arrays.stream(errs).average().orElse(0);
            out.printf(Locale.ROOT, "%-28s %-22s %9.4f %9.4f %9.4f %9.2f %9d %9d%n", label, m.name, mass, errs[errs.length / 2],
                    errMean, 100 * scanned, us[us.length / 2], us[(int) Math.min(us.length - 1, Math.ceil(0.99 * us.length) - 1)]);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("head", label);
            row.put("mode", m.name);
            row.put("n", n);
            row.put("steps", steps);
            row.put("mass_recall_mean", mass);
            row.put("relative_error_median", errs[errs.length / 2]);
            row.put("relative_error_mean", errMean);
            row.put("scanned_fraction", scanned);
            row.put("p50_us", us[us.length / 2]);
            row.put("p99_us", us[(int) Math.min(us.length - 1, Math.ceil(0.99 * us.length) - 1)]);
            rows.add(row);
        }
        return rows;
    }

    private static void record(Mode m, AttendResult r, AttendResult exact) {
        m.micros.add(r.stats().micros());
        m.scanned += r.stats().keysScanned();
        m.mass.add(AttentionAccuracy.massKept(r.logSumExp(), exact.logSumExp()));
        m.error.add(AttentionAccuracy.relativeError(r.output(), exact.output()));
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

    private static float[][] rows(dev.attend.gpu.VectorStore store, int from, int to) {
        float[][] out = new float[to - from][];
        for (int i = from; i < to; i++) {
            out[i - from] = store.row(i);
        }
        return out;
    }
}
