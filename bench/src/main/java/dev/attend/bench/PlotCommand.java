package dev.attend.bench;

import dev.attend.server.Json;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code plot --json FILE --png FILE}: draws the chart of a scorer, index or attention report written elsewhere (the GPU
 * machine's runtime has no AWT). Reports are read with the server's JSON mapper.
 */
@Command(name = "plot", sortOptions = false,
        description = "Draws the chart of a scorer, index or attention JSON report (measured elsewhere, e.g. on a machine without AWT).")
final class PlotCommand extends BenchCommand {

    @Option(names = "--json", paramLabel = "REPORT.json", required = true, description = "A scorer, index or attention report.")
    Path json;

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
        Map<String, Object> report = Json.MAPPER.readValue(json.toFile(), Map.class);
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
