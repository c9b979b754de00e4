package dev.attend.bench;

import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The attention bench as a picture: median relative output error against the p50 latency of a decode step
 * (log), one panel per head: full attention (exact: it sits on the x axis), the static set alone, the static
 * set + the exact top-k (one point per k), and one series per retriever and k, its points the budgets.
 */
final class AttentionChart {

    private static final Map<String, Color> COLORS = Map.of(
            "full", new Color(90, 90, 90),
            "static", new Color(255, 127, 14),
            "exact", new Color(148, 103, 189),
            "hnsw", new Color(44, 160, 44),
            "attention-aware", new Color(214, 39, 40));

    private AttentionChart() {
    }

    static void write(List<Map<String, Object>> rows, Path png) throws IOException {
        // head -> kind -> (latency -> error)
        Map<String, Map<String, TreeMap<Double, Double>>> panels = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            double x = Math.max(1, ((Number) r.get("p50_us")).doubleValue());
            double y = ((Number) r.get("relative_error_median")).doubleValue();
            String kind = (String) r.get("kind");
            // One series per kind and k: an index's points are its budgets.
            int k = ((Number) r.get("k")).intValue();
            String series = k > 0 ? kind + " top-" + k : kind;
            panels.computeIfAbsent((String) r.get("head"), h -> new LinkedHashMap<>())
                    .computeIfAbsent(series, key -> new TreeMap<>())
                    .put(x, y);
        }
        List<XYChart> charts = new ArrayList<>();
        for (Map.Entry<String, Map<String, TreeMap<Double, Double>>> p : panels.entrySet()) {
            charts.add(panel(p.getKey(), p.getValue()));
        }
        int cols = Math.min(3, Math.max(1, charts.size()));
        while (charts.size() % cols != 0 || charts.isEmpty()) {
            XYChart empty = new XYChartBuilder().width(640).height(640).title(" ").build();
            empty.getStyler().setChartBackgroundColor(Color.WHITE);
            empty.getStyler().setLegendVisible(false);
            empty.getStyler().setAxisTicksVisible(false);
            empty.addSeries(" ", new double[] {1}, new double[] {0}).setMarker(SeriesMarkers.NONE);
            charts.add(empty);
        }
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (OutputStream os = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(charts, charts.size() / cols, cols, os, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    private static XYChart panel(String head, Map<String, TreeMap<Double, Double>> series) {
        XYChart chart = new XYChartBuilder().width(640).height(640).title(head)
                .xAxisTitle("p50 latency per decode step (us, one thread)").yAxisTitle("median relative output error").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS); // inside, it would hide the points
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        for (Map.Entry<String, TreeMap<Double, Double>> s : series.entrySet()) {
            double[] x = s.getValue().keySet().stream().mapToDouble(Double::doubleValue).toArray();
            double[] y = s.getValue().values().stream().mapToDouble(Double::doubleValue).toArray();
            XYSeries line = chart.addSeries(label(s.getKey()), x, y);
            String kind = s.getKey().contains(" top-") ? s.getKey().substring(0, s.getKey().indexOf(" top-")) : s.getKey();
            Color color = COLORS.getOrDefault(kind, Color.DARK_GRAY);
            if (s.getKey().contains(" top-") && !s.getKey().endsWith(" top-" + firstK(series))) {
                color = color.darker().darker(); // the larger k
            }
            line.setLineColor(color);
            line.setMarkerColor(color);
            line.setMarker(x.length == 1 ? SeriesMarkers.DIAMOND : SeriesMarkers.CIRCLE);
        }
        return chart;
    }

    private static String firstK(Map<String, TreeMap<Double, Double>> series) {
        return series.keySet().stream().filter(k -> k.contains(" top-")).findFirst()
                .map(k -> k.substring(k.indexOf(" top-") + 5)).orElse("");
    }

    private static String label(String series) {
        return switch (series) {
            case "full" -> "full attention (flat)";
            case "static" -> "static only (sinks + window)";
            default -> "static + " + series + (series.startsWith("exact") ? " (oracle)" : "");
        };
    }
}
