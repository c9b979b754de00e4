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
 * The index bench as a picture: recall@100 against the scanned fraction (log), one series per index, one
 * panel per workload and query set (decode queries, held-out keys), workloads in rows.
 */
final class IndexChart {

    private static final Map<String, Color> COLORS = Map.of(
            "flat", new Color(90, 90, 90),
            "lucene", new Color(31, 119, 180),
            "hnswlib", new Color(44, 160, 44),
            "attention", new Color(214, 39, 40));

    private IndexChart() {
    }

    static void write(List<Map<String, Object>> rows, Path png) throws IOException {
        // workload -> set -> index -> (scanned -> recall)
        Map<String, Map<String, Map<String, TreeMap<Double, Double>>>> panels = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            double x = ((Number) r.get("scanned_fraction")).doubleValue();
            double y = ((Number) r.get("recall_at_100")).doubleValue();
            panels.computeIfAbsent((String) r.get("workload"), w -> new LinkedHashMap<>())
                    .computeIfAbsent((String) r.get("queries"), s -> new LinkedHashMap<>())
                    .computeIfAbsent((String) r.get("index"), i -> new TreeMap<>())
                    .merge(Math.max(x, 1e-5), y, Math::max);
        }
        List<XYChart> charts = new ArrayList<>();
        int cols = 1;
        for (Map<String, Map<String, TreeMap<Double, Double>>> sets : panels.values()) {
            cols = Math.max(cols, sets.size());
        }
        for (Map.Entry<String, Map<String, Map<String, TreeMap<Double, Double>>>> w : panels.entrySet()) {
            List<String> sets = new ArrayList<>(w.getValue().keySet());
            sets.sort((a, b) -> a.equals("ood") ? -1 : b.equals("ood") ? 1 : a.compareTo(b));
            for (int c = 0; c < cols; c++) {
                charts.add(c < sets.size() ? panel(w.getKey(), sets.get(c), w.getValue().get(sets.get(c))) : empty());
            }
        }
        if (charts.isEmpty()) {
            charts.add(empty());
        }
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (OutputStream os = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(charts, charts.size() / cols, cols, os, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    private static XYChart panel(String workload, String set, Map<String, TreeMap<Double, Double>> series) {
        String what = set.equals("ood") ? "decode queries (OOD)" : set.equals("id") ? "held-out keys (in-distribution)" : set;
        XYChart chart = new XYChartBuilder().width(800).height(560).title(workload + ": " + what)
                .xAxisTitle("fraction of keys scanned (distance computations / N)").yAxisTitle("recall@100").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setYAxisMax(1.02);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setXAxisDecimalPattern("0.####");
        List<String> order = new ArrayList<>(IndexFactories.NAMES);
        series.keySet().stream().filter(s -> !order.contains(s)).forEach(order::add);
        for (String index : order) {
            TreeMap<Double, Double> points = series.get(index);
            if (points == null) {
                continue;
            }
            double[] x = points.keySet().stream().mapToDouble(Double::doubleValue).toArray();
            double[] y = points.values().stream().mapToDouble(Double::doubleValue).toArray();
            XYSeries s = chart.addSeries(index, x, y);
            Color color = COLORS.getOrDefault(index, Color.DARK_GRAY);
            s.setLineColor(color);
            s.setMarkerColor(color);
            s.setMarker(x.length == 1 ? SeriesMarkers.DIAMOND : SeriesMarkers.CIRCLE);
        }
        return chart;
    }

    private static XYChart empty() {
        XYChart chart = new XYChartBuilder().width(800).height(560).title("(no data)").build();
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.addSeries(" ", new double[] {1}, new double[] {0}).setMarker(SeriesMarkers.NONE);
        return chart;
    }
}
