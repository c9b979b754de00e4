package dev.attend.bench;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.Imported;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.MovieLensImporter;
import dev.attend.recsys.data.SampleProtocol;
import dev.attend.recsys.data.Samples;
import dev.attend.recsys.data.TaobaoImporter;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.eval.Metrics;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.OnlineLearner;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.recsys.model.Trainer;
import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Online learning measured prequentially: a DARE model trained on the first part of a behaviour stream (in time
 * order), then the rest of the stream replayed event by event. Each event is scored with two sampled negatives
 * before anything learns from it, by the model learning online ({@link OnlineLearner}: new items get rows, every
 * event (or a fraction) drives a step) and by a frozen copy of the pre-trained model on the same items; AUC per
 * window of events shows whether learning from the stream keeps the model ahead of one that stopped.
 */
@Command(name = "online", sortOptions = false,
        description = "Online learning from a behaviour stream: prequential AUC per window against a frozen model, PNG plot.",
        customSynopsis = "bench online --data PATH --format taobao|movielens [options]")
public final class OnlineBench extends BenchCommand {

    @Option(names = "--data", paramLabel = "PATH", description = "A Taobao UserBehavior CSV, or a MovieLens directory.")
    Path data;

    @Option(names = "--format", paramLabel = "taobao|movielens", description = "The format of --data.")
    String format;

    @Option(names = "--warmup-share", paramLabel = "F",
            description = "The share of the stream (in time order) the model is trained on first (default 0.3).")
    double warmupShare = 0.3;

    @Option(names = "--epochs", paramLabel = "N", description = "Epochs of that training (default 2).")
    int epochs = 2;

    @Option(names = "--window", paramLabel = "N", description = "Events per AUC window (default 500).")
    int window = 500;

    @Option(names = "--step-fraction", paramLabel = "F", description = "The share of streamed events that drive a step (default 1).")
    double stepFraction = 1;

    @Option(names = "--lr", paramLabel = "R", description = "The online learning rate (default 0.001).")
    float learningRate = OnlineLearner.Options.defaults().learningRate();

    @Option(names = "--seed", paramLabel = "N", description = "Model and sampling seed (default 1).")
    long seed = 1;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the windows and the summary as JSON.")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Plot windowed AUC, online against frozen.")
    Path plot;

    OnlineBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return new OnlineBench(out, err).execute(args);
    }

    @Override
    public Integer call() {
        check(() -> {
            if (data == null || !("taobao".equals(format) || "movielens".equals(format))) {
                throw new IllegalArgumentException("give --data PATH --format taobao|movielens");
            }
            if (!(warmupShare > 0 && warmupShare < 1)) {
                throw new IllegalArgumentException("--warmup-share must be in (0, 1)");
            }
            if (epochs < 1 || window < 10) {
                throw new IllegalArgumentException("--epochs must be >= 1 and --window >= 10");
            }
            OnlineLearner.Options.defaults().withStepFraction(stepFraction).withLearningRate(learningRate); // validates
        });
        try {
            Imported imported = format.equals("taobao") ? TaobaoImporter.read(data) : MovieLensImporter.read(data);
            err.println("[online] " + imported.report());
            List<BehaviorEvent> events = new ArrayList<>(imported.events());
            events.sort(Comparator.comparingLong(BehaviorEvent::time).thenComparingLong(BehaviorEvent::user));
            int cut = (int) Math.round(events.size() * warmupShare);
            List<BehaviorEvent> warmup = events.subList(0, cut);
            List<BehaviorEvent> stream = events.subList(cut, events.size());

            UserSequences sequences = UserSequences.of(warmup);
            SampleProtocol protocol = SampleProtocol.defaults().withSeed(seed);
            Samples samples = Samples.cut(sequences, protocol);
            int buckets = ModelConfig.positionBucketsFor(protocol.historyLength());
            ModelConfig config = new ModelConfig(ModelConfig.Kind.DARE, 16, 64, 20, new int[] {200, 80}, buckets);
            SequenceModel trained = new SequenceModel(config, sequences.items(), sequences.categories(), seed);
            int epochsDone = epochs;
            Trainer.train(trained, sequences, samples.train(), Trainer.Options.defaults().withEpochs(epochs).withSeed(seed), (epoch, done, total, loss) -> {
                if (done == total) {
                    err.printf(Locale.ROOT, "[online] pre-training epoch %d/%d: loss %.4f%n", epoch + 1, epochsDone, loss);
                }
            });
            Path file = Files.createTempFile("attend-online", ".model");
            ModelFiles.Saved frozen;
            ModelFiles.Saved online;
            try {
                ModelFiles.save(trained, sequences.catalog(), file);
                frozen = ModelFiles.loadWithCatalog(file);
                online = ModelFiles.loadWithCatalog(file);
            } finally {
                Files.deleteIfExists(file);
            }
            err.printf(Locale.ROOT, "[online] pre-trained on %,d events (%,d users, %,d items, %,d samples); streaming %,d events%n", cut,
                    sequences.users(), sequences.items(), samples.train().size(), stream.size());

            OnlineLearner learner = new OnlineLearner(online.model(), online.catalog(),
                    OnlineLearner.Options.defaults().withStepFraction(stepFraction).withLearningRate(learningRate));
            Map<Long, List<long[]>> histories = new HashMap<>(); // user -> (item, category) source ids, oldest first
            for (BehaviorEvent e : warmup) {
                histories.computeIfAbsent(e.user(), u -> new ArrayList<>()).add(new long[] {e.item(), e.category()});
            }
            int historyLength = learner.options().historyLength();
            List<Map<String, Object>> windows = new ArrayList<>();
            Scored onlineAll = new Scored();
            Scored frozenAll = new Scored();
            Scored onlineWindow = new Scored();
            Scored frozenWindow = new Scored();
            long newItems = 0;
            long t0 = System.nanoTime();
            out.printf(Locale.ROOT, "%-10s %10s %10s %12s %12s%n", "events", "online_auc", "frozen_auc", "online_cum", "frozen_cum");
            for (int i = 0; i < stream.size(); i++) {
                BehaviorEvent e = stream.get(i);
                List<long[]> h = histories.computeIfAbsent(e.user(), u -> new ArrayList<>());
                int from = Math.max(0, h.size() - historyLength);
                newItems += online.catalog().itemIndex(e.item()) == 0 ? 1 : 0;
                OnlineLearner.Outcome o = learner.observe(dense(h, from, online.catalog(), true), dense(h, from, online.catalog(), false),
                        e.item(), e.category());
                int[] fi = dense(h, from, frozen.catalog(), true);
                int[] fc = dense(h, from, frozen.catalog(), false);
                for (int x = 0; x < o.logits().length; x++) {
                    int item = frozen.catalog().itemIndex(o.itemIds()[x]);
                    int category = frozen.catalog().categoryIndex(o.categoryIds()[x]);
                    float frozenLogit = frozen.model().forward(fi, fc, 0, fi.length, item, category).logit;
                    onlineWindow.add(o.logits()[x], o.labels()[x]);
                    frozenWindow.add(frozenLogit, o.labels()[x]);
                    onlineAll.add(o.logits()[x], o.labels()[x]);
                    frozenAll.add(frozenLogit, o.labels()[x]);
                }
                h.add(new long[] {e.item(), e.category()});
                if ((i + 1) % window == 0 || i + 1 == stream.size()) {
                    Map<String, Object> w = new LinkedHashMap<>();
                    w.put("events", i + 1);
                    w.put("online_auc", onlineWindow.auc());
                    w.put("frozen_auc", frozenWindow.auc());
                    w.put("online_cumulative_auc", onlineAll.auc());
                    w.put("frozen_cumulative_auc", frozenAll.auc());
                    windows.add(w);
                    out.printf(Locale.ROOT, "%-10d %10.4f %10.4f %12.4f %12.4f%n", i + 1, onlineWindow.auc(), frozenWindow.auc(), onlineAll.auc(),
                            frozenAll.auc());
                    onlineWindow = new Scored();
                    frozenWindow = new Scored();
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            int half = windows.size() / 2;
            double onlineFirst = meanOf(windows.subList(0, half), "online_auc");
            double onlineSecond = meanOf(windows.subList(half, windows.size()), "online_auc");
            double frozenFirst = meanOf(windows.subList(0, half), "frozen_auc");
            double frozenSecond = meanOf(windows.subList(half, windows.size()), "frozen_auc");
            out.printf(Locale.ROOT, "mean window AUC, first half / second half of the stream: online %.4f / %.4f, frozen %.4f / %.4f%n",
                    onlineFirst, onlineSecond, frozenFirst, frozenSecond);
            out.printf(Locale.ROOT, "streamed %,d events (%,d new items got rows) in %.1f s: %,.0f events/s scored and learned (%d steps)%n",
                    stream.size(), newItems, seconds, stream.size() / seconds, learner.steps());
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("online_auc", onlineAll.auc());
            summary.put("frozen_auc", frozenAll.auc());
            summary.put("online_first_half_mean_window_auc", onlineFirst);
            summary.put("online_second_half_mean_window_auc", onlineSecond);
            summary.put("frozen_first_half_mean_window_auc", frozenFirst);
            summary.put("frozen_second_half_mean_window_auc", frozenSecond);
            summary.put("new_items", newItems);
            summary.put("steps", learner.steps());
            summary.put("events_per_second", stream.size() / seconds);
            if (json != null) {
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("bench", "online");
                report.put("machine", MachineInfo.describe());
                report.put("data", data.toString());
                report.put("warmup_events", cut);
                report.put("streamed_events", stream.size());
                report.put("window", window);
                report.put("epochs", epochs);
                report.put("step_fraction", stepFraction);
                report.put("learning_rate", learningRate);
                report.put("seed", seed);
                report.put("summary", summary);
                report.put("windows", windows);
                Files.writeString(json, JsonWriter.write(report, 0));
            }
            if (plot != null) {
                plot(windows, data.getFileName() + ", " + stream.size() + " events streamed after " + cut, plot);
                err.println("[online] plot: " + plot);
            }
            return 0;
        } catch (Exception e) {
            err.println("bench online: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    /** The dense ids (items, or categories) of the history from {@code from} in {@code catalog} (0 where unknown). */
    private static int[] dense(List<long[]> history, int from, ItemCatalog catalog, boolean items) {
        int[] out = new int[history.size() - from];
        for (int i = 0; i < out.length; i++) {
            long[] b = history.get(from + i);
            out[i] = items ? catalog.itemIndex(b[0]) : catalog.categoryIndex(b[1]);
        }
        return out;
    }

    private static double meanOf(List<Map<String, Object>> windows, String key) {
        return windows.stream().mapToDouble(w -> (Double) w.get(key)).filter(v -> !Double.isNaN(v)).average().orElse(Double.NaN);
    }

    /** Scores with labels, for an AUC. */
    private static final class Scored {
        private float[] scores = new float[1024];
        private float[] labels = new float[1024];
        private int n;

        void add(float score, float label) {
            if (n == scores.length) {
                scores = Arrays.copyOf(scores, 2 * n);
                labels = Arrays.copyOf(labels, 2 * n);
            }
            scores[n] = score;
            labels[n++] = label;
        }

        double auc() {
            return Metrics.auc(Arrays.copyOf(scores, n), Arrays.copyOf(labels, n));
        }
    }

    private static void plot(List<Map<String, Object>> windows, String title, Path png) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title("prequential AUC per window: " + title)
                .xAxisTitle("events streamed").yAxisTitle("AUC").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        double[] x = windows.stream().mapToDouble(w -> ((Number) w.get("events")).doubleValue()).toArray();
        String[][] series = {{"online (window)", "online_auc"}, {"frozen (window)", "frozen_auc"}, {"online (cumulative)", "online_cumulative_auc"},
                {"frozen (cumulative)", "frozen_cumulative_auc"}};
        Color[] colors = {new Color(44, 160, 44), new Color(214, 39, 40), new Color(44, 160, 44), new Color(214, 39, 40)};
        for (int s = 0; s < series.length; s++) {
            String key = series[s][1];
            XYSeries line = chart.addSeries(series[s][0], x, windows.stream().mapToDouble(w -> (Double) w.get(key)).toArray());
            line.setLineColor(colors[s]);
            line.setMarkerColor(colors[s]);
            line.setMarker(s < 2 ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
            line.setLineStyle(s < 2 ? SeriesLines.SOLID : SeriesLines.DASH_DASH);
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
