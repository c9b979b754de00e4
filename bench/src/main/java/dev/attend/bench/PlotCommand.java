package dev.attend.bench;

import dev.attend.server.Json;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code plot --json FILE --png FILE}: draws the chart of a scorer, index or attention report written elsewhere (the GPU
 * machine's runtime has no AWT), or of several model reports on one chart ({@link ModelChart}). Reports are read with
 * the server's JSON mapper.
 */
@Command(name = "plot", sortOptions = false,
        description = "Draws the chart of a scorer, index or attention JSON report, or of model reports together (measured elsewhere, e.g. on a machine without AWT).")
final class PlotCommand extends BenchCommand {

    @Option(names = "--json", paramLabel = "REPORT.json", required = true, split = ",",
            description = "A scorer, index or attention report; or model reports (comma-separated or repeated), drawn on one chart.")
    List<Path> json;

    @Option(names = "--label", paramLabel = "NAME", split = ",",
            description = "With model reports: each one's name in the legend (default the file names).")
    List<String> labels;

    @Option(names = "--png", paramLabel = "OUT.png", required = true, description = "Where the chart goes.")
    Path png;

    PlotCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** Runs {@code plot} with {@code args}, its help on System.out; returns the exit status. */
    static int run(String[] args, PrintStream err) {
        return new PlotCommand(System.out, err).execute(args);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Integer call() throws Exception {
        List<Map<String, Object>> reports = new ArrayList<>();
        for (Path p : json) {
            reports.add(Json.MAPPER.readValue(p.toFile(), Map.class));
        }
        if (reports.stream().allMatch(r -> "model".equals(r.get("bench")))) {
            List<String> names = labels != null ? labels : json.stream().map(p -> p.getFileName().toString().replaceFirst("\\.json$", "")).toList();
            if (names.size() != reports.size()) {
                err.println("plot: " + names.size() + " labels for " + reports.size() + " reports");
                return 2;
            }
            try {
                ModelChart.write(reports, names, png);
            } catch (IllegalArgumentException e) {
                err.println("plot: " + e.getMessage());
                return 2;
            }
            err.println("[plot] wrote " + png);
            return 0;
        }
        if (reports.size() != 1) {
            err.println("plot: several reports are drawn together only when all are model reports");
            return 2;
        }
        Path json = this.json.getFirst();
        Map<String, Object> report = reports.getFirst();
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
            err.println("plot: " + json + " is not a scorer, index, attention or model report");
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
