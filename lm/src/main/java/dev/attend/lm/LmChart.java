package dev.attend.lm;

import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * {@code lm eval} as a picture: the share of the streaming-to-full gap recovered against the decode time per byte,
 * one series per policy, its points the budgets, each point labelled; lines at 1 (full) and 0 (streaming).
 */
public final class LmChart {

    private static final Map<String, Color> COLORS = Map.of(
            "full", new Color(90, 90, 90),
            "streaming", new Color(255, 127, 14),
            "retrieval", new Color(214, 39, 40),
            "retrieval+tail", new Color(44, 160, 44),
            "auto", new Color(31, 119, 180),
            "recycled", new Color(148, 103, 189),
            "block", new Color(140, 86, 75));

    private static final Color[] OTHERS = {new Color(227, 119, 194), new Color(188, 189, 34), new Color(23, 190, 207), new Color(127, 127, 127)};

    private LmChart() {
    }

    /** Fails with a message naming the path when {@code png} cannot be written, so a bad path is caught before a long run. */
    public static void checkTarget(Path png) throws IOException {
        Path parent = png.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new IOException("cannot write " + png + ": the folder " + parent + " does not exist");
        }
        if (!Files.isWritable(parent)) {
            throw new IOException("cannot write " + png + ": the folder " + parent + " is not writable");
        }
        if (Files.isDirectory(png)) {
            throw new IOException("cannot write " + png + ": it is a folder");
        }
    }

    /**
     * Draws {@code result}'s summaries into {@code png} (written to a temporary file beside it, then moved over it).
     *
     * @return the summaries left out: those without a recovered share (no full and streaming, in the run or reference.json)
     *         or a decode time
     */
    public static List<LmEval.Summary> write(LmEval.Result result, Path png) throws IOException {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true"); // before AWT starts: a server has no display
        }
        checkTarget(png);
        List<LmEval.Summary> shown = new ArrayList<>();
        List<LmEval.Summary> left = new ArrayList<>();
        for (LmEval.Summary s : result.summaries()) {
            (Double.isFinite(s.recovered()) && Double.isFinite(s.decodeMsP50()) ? shown : left).add(s);
        }
        XYChart chart = chart(result, shown);
        // Beside the target, so the move is a rename; not createTempFile, whose owner-only permissions the move would keep.
        Path tmp = png.toAbsolutePath().resolveSibling("." + png.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        try {
            try (OutputStream os = Files.newOutputStream(tmp)) {
                BitmapEncoder.saveBitmap(chart, os, BitmapEncoder.BitmapFormat.PNG);
            }
            try {
                Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return left;
    }

    private static XYChart chart(LmEval.Result result, List<LmEval.Summary> shown) {
        long docs = result.rows().stream().map(LmEval.Row::doc).distinct().count();
        String gap = shown.isEmpty() ? "" : ", gap from " + shown.getFirst().gapSource();
        LmEval.Options o = result.options();
        XYChart chart = new XYChartBuilder().width(900).height(640)
                .title(String.format(Locale.ROOT, "%s: %d document%s, prefill %,d + decode %,d bytes%s", o.modelDir().getFileName(), docs,
                        docs == 1 ? "" : "s", o.prefill(), o.decode(), shown.isEmpty() ? " (no policy with a recovered share)" : gap))
                .xAxisTitle("decode time per byte, p50 (ms, every layer)")
                .yAxisTitle("share of the streaming-to-full gap recovered (1 = full, 0 = streaming)").build();
        XYStyler styler = chart.getStyler();
        styler.setLegendPosition(Styler.LegendPosition.OutsideS); // inside, it would hide the points
        styler.setChartBackgroundColor(Color.WHITE);
        styler.setAnnotationLineColor(Color.LIGHT_GRAY);
        styler.setAnnotationTextFontColor(Color.DARK_GRAY);
        if (shown.isEmpty()) {
            chart.addSeries(" ", new double[] {1}, new double[] {0}).setMarker(SeriesMarkers.NONE);
            styler.setLegendVisible(false);
            styler.setAxisTicksVisible(false);
            return chart;
        }
        double xMin = shown.stream().mapToDouble(LmEval.Summary::decodeMsP50).min().orElseThrow();
        double xMax = shown.stream().mapToDouble(LmEval.Summary::decodeMsP50).max().orElseThrow();
        boolean log = xMin > 0 && xMax / xMin > 10;
        styler.setXAxisLogarithmic(log);
        // Room left and right so the labels of the outer points are not cut by the plot's edge.
        double xPad = log ? 1.3 : 0.08 * Math.max(xMax, 1e-3);
        styler.setXAxisMin(log ? xMin / xPad : Math.max(0, xMin - xPad));
        styler.setXAxisMax(log ? xMax * xPad : xMax + xPad);
        double yMin = Math.min(0, shown.stream().mapToDouble(LmEval.Summary::recovered).min().orElseThrow());
        double yMax = Math.max(1, shown.stream().mapToDouble(LmEval.Summary::recovered).max().orElseThrow());
        double pad = 0.08 * (yMax - yMin);
        styler.setYAxisMin(yMin - pad);
        styler.setYAxisMax(yMax + pad); // room for the labels above the top points
        styler.setYAxisDecimalPattern("0.##");
        chart.addAnnotation(new AnnotationLine(1, false, false));
        chart.addAnnotation(new AnnotationLine(0, false, false));
        Map<String, List<LmEval.Summary>> series = new LinkedHashMap<>();
        for (LmEval.Summary s : shown) {
            series.computeIfAbsent(s.policy(), p -> new ArrayList<>()).add(s);
        }
        int other = 0;
        for (Map.Entry<String, List<LmEval.Summary>> e : series.entrySet()) {
            List<LmEval.Summary> points = e.getValue().stream().sorted(Comparator.comparingDouble(LmEval.Summary::decodeMsP50)).toList();
            double[] x = points.stream().mapToDouble(LmEval.Summary::decodeMsP50).toArray();
            double[] y = points.stream().mapToDouble(LmEval.Summary::recovered).toArray();
            XYSeries line = chart.addSeries(e.getKey(), x, y);
            Color color = COLORS.get(e.getKey().startsWith("exact:") ? e.getKey().substring(6) : e.getKey());
            if (color == null) {
                color = OTHERS[other++ % OTHERS.length];
            } else if (e.getKey().startsWith("exact:")) {
                color = color.darker(); // the in-Java reference rule beside the session's policy of the same name
            }
            line.setLineColor(color);
            line.setMarkerColor(color);
            line.setMarker(x.length == 1 ? SeriesMarkers.DIAMOND : SeriesMarkers.CIRCLE);
            for (LmEval.Summary s : points) {
                String label = s.policy() + (s.budget() > 0 ? " @" + s.budget() : points.size() > 1 ? " @default" : "");
                chart.addAnnotation(new AnnotationText(label, s.decodeMsP50(), s.recovered() + pad / 2, false));
            }
        }
        return chart;
    }
}
