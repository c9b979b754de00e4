package dev.attend.bench;

import dev.attend.retrieval.KvSession;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One way {@code bench attention} answers the decode steps (full, static, oracle or a session), and what it measured. */
final class AttentionMode {

    final String name;
    final String kind;
    final int k;
    final KvSession session; // null: not answered by a session
    final int budget; // distance computations per index search (session modes)
    final double budgetFraction; // keys scanned per attend as a fraction of N (session modes; 0 otherwise)
    final List<Double> mass = new ArrayList<>();
    final List<Double> error = new ArrayList<>();
    final List<Double> recall = new ArrayList<>();
    final List<Long> micros = new ArrayList<>();
    long scanned;
    double throughput = Double.NaN;

    AttentionMode(String name, String kind, int k, KvSession session, int budget, double budgetFraction) {
        this.name = name;
        this.kind = kind;
        this.k = k;
        this.session = session;
        this.budget = budget;
        this.budgetFraction = budgetFraction;
    }

    AttentionMode(String name, String kind, int k) {
        this(name, kind, k, null, 0, 0);
    }

    void record(double massKept, double err, double recallAtK, long us, long keysScanned) {
        mass.add(massKept);
        error.add(err);
        recall.add(recallAtK);
        micros.add(us);
        scanned += keysScanned;
    }

    /** The report's row of this mode on {@code w}: means, median and tail of the steps, throughput. */
    Map<String, Object> row(DecodeWorkload w, int n, int steps) {
        double[] errs = error.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        long[] us = micros.stream().mapToLong(Long::longValue).sorted().toArray();
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("head", w.label());
        row.put("mode", name);
        row.put("kind", kind);
        row.put("k", k);
        if (session != null) {
            row.put("budget_fraction", budgetFraction);
            row.put("budget", budget);
        }
        row.put("n", n);
        row.put("steps", steps);
        row.put("mass_recall_mean", mass.stream().mapToDouble(Double::doubleValue).average().orElse(0));
        row.put("recall_at_k_mean", recall.stream().mapToDouble(Double::doubleValue).average().orElse(0));
        row.put("relative_error_median", errs[errs.length / 2]);
        row.put("relative_error_p90", errs[(int) Math.min(errs.length - 1, Math.ceil(0.9 * errs.length) - 1)]);
        row.put("relative_error_mean", Arrays.stream(errs).average().orElse(0));
        row.put("scanned_fraction", (double) scanned / steps / n);
        row.put("p50_us", us[us.length / 2]);
        row.put("p99_us", us[(int) Math.min(us.length - 1, Math.ceil(0.99 * us.length) - 1)]);
        if (!Double.isNaN(throughput)) {
            row.put("throughput_steps_per_s", throughput);
        }
        return row;
    }
}
