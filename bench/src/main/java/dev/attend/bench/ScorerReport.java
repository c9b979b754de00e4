package dev.attend.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Everything one {@code bench scorer} run measured, and how it is shown: JSON, the table, one line per row. */
record ScorerReport(Map<String, Object> machine, Map<String, Object> config, Map<String, Object> triad,
                    List<Map<String, Object>> rows) {

    Map<String, Object> toJsonMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bench", "scorer");
        m.put("machine", machine);
        m.put("config", config);
        m.put("triad", triad);
        m.put("rows", rows);
        return m;
    }

    /** Puts the comparisons next to the other derived numbers. */
    static void reorder(Map<String, Object> row) {
        List<String> order = List.of("name", "backend", "device", "n", "d", "m", "k", "bytes_per_component", "ms_median",
                "ms_best", "reps", "key_GBps", "key_GBps_best", "gflops", "ratio_to_plain", "bandwidth_ratio", "bandwidth_ratio_best",
                "agree_with_plain", "key_store_MB", "heap_used_MB", "device_resident_MB", "upload_ms", "first_call_ms");
        Map<String, Object> copy = new LinkedHashMap<>(row);
        row.clear();
        for (String key : order) {
            if (copy.containsKey(key)) {
                row.put(key, copy.remove(key));
            }
        }
        row.putAll(copy);
    }

    /** One row on one line, as the harness logs it. */
    static String summary(Map<String, Object> row) {
        return String.format(Locale.ROOT, "%-7s n=%-9d d=%-4d m=%-3d %10.3f ms  %7.2f GB/s  %7.2f GFLOP/s%s%s",
                row.get("backend"), row.get("n"), row.get("d"), row.get("m"), (Double) row.get("ms_median"),
                (Double) row.get("key_GBps"), (Double) row.get("gflops"),
                row.containsKey("ratio_to_plain") ? String.format(Locale.ROOT, "  x%.1f plain", (Double) row.get("ratio_to_plain")) : "",
                row.containsKey("bandwidth_ratio") ? String.format(Locale.ROOT, "  %.2f of triad", (Double) row.get("bandwidth_ratio")) : "");
    }

    /** The table of the rows, after the triad bandwidths of one thread and of {@code threads}. */
    void print(PrintStream out, double triadOne, double triadAll, int threads) {
        out.printf(Locale.ROOT, "triad (a = b + s*c, 12 B/element, best): %.2f GB/s on 1 thread, %.2f GB/s on %d threads%n",
                triadOne, triadAll, threads);
        String header = String.format(Locale.ROOT, "%-7s %10s %4s %3s %4s %10s %10s %8s %8s %8s %7s %6s %8s %8s %8s",
                "backend", "n", "d", "m", "k", "ms_median", "ms_best", "key_GB/s", "GFLOP/s", "x_plain", "bw_ratio",
                "agree", "store_MB", "heap_MB", "dev_MB");
        out.println(header);
        out.println("-".repeat(header.length()));
        Map<String, String> devices = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            out.printf(Locale.ROOT, "%-7s %10d %4d %3d %4d %10.3f %10.3f %8.2f %8.2f %8s %7s %6s %8.0f %8.0f %8s%n",
                    r.get("backend"), r.get("n"), r.get("d"), r.get("m"), r.get("k"), (Double) r.get("ms_median"),
                    (Double) r.get("ms_best"), (Double) r.get("key_GBps"), (Double) r.get("gflops"),
                    opt(r, "ratio_to_plain", "%.1f"), opt(r, "bandwidth_ratio", "%.2f"), opt(r, "agree_with_plain", "%.3f"),
                    (Double) r.get("key_store_MB"), (Double) r.get("heap_used_MB"), opt(r, "device_resident_MB", "%.0f"));
            devices.merge((String) r.get("backend"), (String) r.get("device"),
                    (a, b) -> a.equals(b) || a.contains(b) ? a : a + " | " + b);
        }
        out.println("devices:");
        devices.forEach((b, d) -> out.printf("  %-7s %s%n", b, d));
        out.println("bw_ratio: key GB/s over the triad of the same threading (1 thread for plain and simd-1, all for simd);"
                + " none for a GPU");
    }

    private static String opt(Map<String, Object> r, String key, String format) {
        Object v = r.get(key);
        return v instanceof Number num ? String.format(Locale.ROOT, format, num.doubleValue()) : "-";
    }

    /** Writes {@link #toJsonMap} to {@code path} (its folder made if missing). */
    void write(Path path) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(path, JsonWriter.write(toJsonMap(), 2) + "\n");
    }
}
