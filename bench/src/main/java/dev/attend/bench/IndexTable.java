package dev.attend.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The table {@code bench index} prints: the workloads' statistics, then one line per index, query set and budget. */
final class IndexTable {

    private IndexTable() {
    }

    static void print(PrintStream out, List<Map<String, Object>> workloads, List<Map<String, Object>> rows,
                      List<Map<String, Object>> skipped) {
        out.println("workloads (gap: |mean query - mean key| in key standard deviations; mass: softmax mass of the true top-100):");
        for (Map<String, Object> wl : workloads) {
            out.printf(Locale.ROOT, "  %-46s n=%-9s d=%-3s gap %.3f  top-100 mass %.3f (median %.3f)%s%s%n", wl.get("name"),
                    wl.get("keys"), wl.get("dim"), num(wl.get("gap_key_sd")), num(wl.get("top100_mass_mean")),
                    num(wl.get("top100_mass_median")),
                    wl.containsKey("ivf_scan_q2k") ? String.format(Locale.ROOT, "  IVF scan %.3f (held-out keys %.3f)",
                            num(wl.get("ivf_scan_q2k")), num(wl.get("ivf_scan_k2k"))) : "",
                    fitted(wl));
        }
        String header = String.format(Locale.ROOT, "%-46s %-9s %-3s %9s %7s %9s %10s %10s %9s %9s %9s", "workload", "index", "set",
                "budget", "budget%", "recall@10", "recall@100", "scanned%", "q/s", "build_s", "mem_MB");
        out.println(header);
        out.println("-".repeat(header.length()));
        List<Map<String, Object>> sorted = new ArrayList<>(rows);
        sorted.sort(Comparator.comparing((Map<String, Object> r) -> (String) r.get("workload"))
                .thenComparing(r -> (String) r.get("queries"), Comparator.reverseOrder())
                .thenComparing(r -> IndexFactories.NAMES.indexOf((String) r.get("index")))
                .thenComparingInt(r -> (Integer) r.get("budget")));
        for (Map<String, Object> r : sorted) {
            out.printf(Locale.ROOT, "%-46s %-9s %-3s %9d %7.2f %9.3f %10.3f %10.2f %9.0f %9.1f %9.1f%n", r.get("workload"), r.get("index"),
                    r.get("queries"), r.get("budget"), 100 * num(r.get("budget_fraction")), num(r.get("recall_at_10")),
                    num(r.get("recall_at_100")), 100 * num(r.get("scanned_fraction")), num(r.get("qps")), num(r.get("build_s")),
                    num(r.get("memory_MB")));
        }
        out.println("set: ood = decode (test) queries, id = held-out keys as queries; scanned% = exact distance computations / N"
                + " (mean over queries); q/s on one thread");
        for (Map<String, Object> s : skipped) {
            out.printf("skipped %s on %s: %s%n", s.get("index"), s.get("workload"), s.get("reason"));
        }
    }

    @SuppressWarnings("unchecked")
    private static String fitted(Map<String, Object> wl) {
        if (!(wl.get("fitted_to") instanceof Map<?, ?> t)) {
            return "";
        }
        Map<String, Object> target = (Map<String, Object>) t;
        return String.format(Locale.ROOT, "%n  %-46s fitted to the real head: gap %.3f, top-100 mass %.3f over %s keys%s", "",
                num(target.get("gap_key_sd")), num(target.get("top100_mass_mean")), target.get("top100_mass_over_keys"),
                wl.containsKey("top100_mass_mean_at_reference_keys") ? String.format(Locale.ROOT,
                        " (synthetic over as many: %.3f)", num(wl.get("top100_mass_mean_at_reference_keys"))) : "");
    }

    private static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
