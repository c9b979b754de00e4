package dev.attend.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** {@code plot --json FILE --png FILE}: draws the chart of a scorer, index or attention report written elsewhere. */
final class PlotCommand {

    private PlotCommand() {
    }

    @SuppressWarnings("unchecked")
    static int run(String[] args, PrintStream err) throws Exception {
        Path json = null;
        Path png = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--json" -> json = Path.of(args[i + 1]);
                case "--png" -> png = Path.of(args[i + 1]);
                default -> {
                    err.println("plot: unknown option " + args[i]);
                    return 2;
                }
            }
        }
        if (json == null || png == null || args.length % 2 != 0) {
            err.println("usage: bench plot --json REPORT.json --png OUT.png   (a scorer, index or attention report)");
            return 2;
        }
        Map<String, Object> report = (Map<String, Object>) JsonReader.parse(Files.readString(json));
        if ("attention".equals(report.get("bench"))) {
            AttentionChart.write((List<Map<String, Object>>) report.get("rows"), png);
            err.println("[plot] wrote " + png);
            return 0;
        }
        if ("index".equals(report.get("bench"))) {
            IndexChart.write((List<Map<String, Object>>) report.get("rows"), png);
            err.println("[plot] wrote " + png);
            return 0;
        }
        if (!"scorer".equals(report.get("bench"))) {
            err.println("plot: " + json + " is not a scorer, index or attention report");
            return 2;
        }
        Map<String, Object> triad = (Map<String, Object>) report.get("triad");
        List<Map<String, Object>> rows = (List<Map<String, Object>>) report.get("rows");
        ScorerChart.write(rows, ((Number) triad.get("single_thread_GBps")).doubleValue(),
                ((Number) triad.get("all_threads_GBps")).doubleValue(), ((Number) triad.get("threads")).intValue(), png);
        err.println("[plot] wrote " + png);
        return 0;
    }
}
