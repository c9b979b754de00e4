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
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Model reports as a picture: the share of KV heads whose index is ready against the seconds since the prefill began,
 * one curve per report, with a dashed line where each report's prefill ended (what a build hidden in the prefill
 * would reach).
 */
final class ModelChart {

    private static final Color[] COLORS = {new Color(214, 39, 40), new Color(31, 119, 180), new Color(44, 160, 44),
        new Color(148, 103, 189), new Color(255, 127, 14), new Color(90, 90, 90)};

    private ModelChart() {
    }

    /** Draws {@code reports} (each a model report with its {@code ready_curve}), labelled by {@code labels}, into {@code png}. */
    @SuppressWarnings("unchecked")
    static void write(List<Map<String, Object>> reports, List<String> labels, Path png) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title("KV heads ready after the prefill began")
                .xAxisTitle("seconds since the prefill began").yAxisTitle("KV heads with their index ready (%)").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setYAxisMax(100.0);
        chart.getStyler().setXAxisMin(0.0);
        for (int i = 0; i < reports.size(); i++) {
            Map<String, Object> r = reports.get(i);
            List<List<Number>> curve = (List<List<Number>>) r.get("ready_curve");
            if (curve == null || curve.isEmpty()) {
                throw new IllegalArgumentException(labels.get(i) + ": the report has no ready_curve (made before bench model recorded one)");
            }
            double heads = ((Number) r.get("heads")).doubleValue();
            // A step line: the count holds until the next point.
            List<Double> xs = new ArrayList<>(List.of(0.0));
            List<Double> ys = new ArrayList<>(List.of(0.0));
            for (List<Number> p : curve) {
                double x = p.get(0).doubleValue();
                xs.add(x);
                ys.add(ys.getLast());
                xs.add(x);
                ys.add(100 * p.get(1).doubleValue() / heads);
            }
            Color color = COLORS[i % COLORS.length];
            String label = String.format(Locale.ROOT, "%s: all ready at %.1f s", labels.get(i), ((Number) r.get("prefill_to_ready_seconds")).doubleValue());
            XYSeries s = chart.addSeries(label, xs, ys);
            s.setMarker(SeriesMarkers.NONE);
            s.setLineColor(color);
            double prefill = ((Number) r.get("prefill_seconds")).doubleValue();
            XYSeries end = chart.addSeries(String.format(Locale.ROOT, "%s: prefill ends (%.1f s)", labels.get(i), prefill),
                    List.of(prefill, prefill), List.of(0.0, 100.0));
            end.setMarker(SeriesMarkers.NONE);
            end.setLineColor(color);
            end.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 6f}, 0f));
        }
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (OutputStream os = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(chart, os, BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
