package dev.attend.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The scorer bench as a picture: one panel per dimension, n (log) against key GB/s, a series per
 * backend and batch size m, and the triad bandwidths as dashed horizontal lines.
 */
final class ScorerChart {

    private static final Map<String, Color> COLORS = Map.of(
            "plain", new Color(120, 120, 120),
            "simd-1", new Color(31, 119, 180),
            "simd", new Color(44, 160, 44),
            "opencl", new Color(214, 39, 40));
    private static final Marker[] MARKERS = {
            SeriesMarkers.CIRCLE, SeriesMarkers.DIAMOND, SeriesMarkers.SQUARE, SeriesMarkers.TRIANGLE_UP};
    private static final BasicStroke[] LINES = {
            SeriesLines.SOLID, SeriesLines.DASH_DOT, SeriesLines.DOT_DOT, SeriesLines.DASH_DASH};

    private ScorerChart() {
    }

    static void write(List<Map<String, Object>> rows, double triadOne, double triadAll, int threads, Path png) throws IOException {
        TreeSet<Integer> dims = new TreeSet<>();
        double minN = Double.MAX_VALUE;
        double maxN = 0;
        for (Map<String, Object> r : rows) {
            dims.add(((Number) r.get("d")).intValue());
            double n = ((Number) r.get("n")).doubleValue();
            minN = Math.min(minN, n);
            maxN = Math.max(maxN, n);
        }
        if (dims.isEmpty()) {
            dims.add(0);
            minN = 1;
            maxN = 10;
        }
        List<XYChart> charts = new ArrayList<>();
        for (int d : dims) {
            charts.add(panel(rows, d, triadOne, triadAll, threads, minN / 1.5, maxN * 1.5));
        }
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (OutputStream os = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(charts, 1, charts.size(), os, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    private static XYChart panel(List<Map<String, Object>> rows, int d, double triadOne, double triadAll, int threads,
                                 double xFrom, double xTo) {
        XYChart chart = new XYChartBuilder().width(900).height(700)
                .title("top-k scoring, d = " + d + ": key bytes read per second")
                .xAxisTitle("n (rows)").yAxisTitle("key GB/s").build();
        Styler.LegendPosition legend = Styler.LegendPosition.OutsideS;
        chart.getStyler().setLegendPosition(legend);
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        // series name -> (n -> GB/s), sorted by n
        Map<String, TreeMap<Double, Double>> series = new TreeMap<>();
        double lo = Double.MAX_VALUE;
        double hi = 0;
        for (Map<String, Object> r : rows) {
            if (((Number) r.get("d")).intValue() != d) {
                continue;
            }
            String name = r.get("backend") + " m=" + ((Number) r.get("m")).intValue();
            double gbps = ((Number) r.get("key_GBps")).doubleValue();
            series.computeIfAbsent(name, x -> new TreeMap<>()).put(((Number) r.get("n")).doubleValue(), gbps);
            lo = Math.min(lo, gbps);
            hi = Math.max(hi, gbps);
        }
        List<Integer> ms = new ArrayList<>(new TreeSet<>(series.keySet().stream()
                .map(name -> Integer.parseInt(name.substring(name.indexOf("m=") + 2))).toList()));
        for (Map.Entry<String, TreeMap<Double, Double>> e : series.entrySet()) {
            double[] x = e.getValue().keySet().stream().mapToDouble(Double::doubleValue).toArray();
            double[] y = e.getValue().values().stream().mapToDouble(Double::doubleValue).toArray();
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            // A colour per backend, a marker and line style per batch size m.
            String backend = e.getKey().substring(0, e.getKey().indexOf(' '));
            int m = Integer.parseInt(e.getKey().substring(e.getKey().indexOf("m=") + 2));
            Color color = COLORS.getOrDefault(backend, Color.GRAY);
            int style = ms.indexOf(m) % MARKERS.length;
            s.setLineColor(color);
            s.setMarkerColor(color);
            s.setMarker(MARKERS[style]);
            s.setLineStyle(LINES[style]);
        }
        if (triadOne > 0) {
            line(chart, String.format(Locale.ROOT, "triad 1 thread (%.1f GB/s)", triadOne), triadOne, xFrom, xTo, Color.BLACK);
            lo = Math.min(lo, triadOne);
            hi = Math.max(hi, triadOne);
        }
        if (triadAll > 0 && threads > 1) {
            line(chart, String.format(Locale.ROOT, "triad %d threads (%.1f GB/s)", threads, triadAll), triadAll, xFrom, xTo, new Color(110, 0, 160));
            hi = Math.max(hi, triadAll);
        }
        // A GPU can read keys a hundred times faster than the CPU's slowest loop: go logarithmic then.
        if (lo > 0 && hi / lo > 50) {
            chart.getStyler().setYAxisLogarithmic(true);
        } else {
            chart.getStyler().setYAxisMin(0.0);
        }
        return chart;
    }

    private static void line(XYChart chart, String name, double y, double xFrom, double xTo, Color color) {
        XYSeries s = chart.addSeries(name, new double[] {xFrom, xTo}, new double[] {y, y});
        s.setMarker(SeriesMarkers.NONE);
        s.setLineStyle(SeriesLines.DASH_DASH);
        s.setLineColor(color);
    }
}
