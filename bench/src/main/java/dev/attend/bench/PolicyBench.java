package dev.attend.bench;

import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.policy.AttentionAccuracy;
import dev.attend.retrieval.policy.HeadPolicy;
import dev.attend.retrieval.policy.PolicyAnswer;
import dev.attend.retrieval.policy.PolicyChooser;
import dev.attend.retrieval.policy.PolicyHead;
import java.awt.Color;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Every head policy on every head: the first N - steps tokens of a head are its prefill (keys, values and the
 * queries at those positions, which train the indexes and the automatic choice), then each of the last
 * {@code steps} tokens is appended to every policy's head and its query attended; full attention is the reference.
 * Per head and policy: the median relative output error, the mean attention mass kept ({@code exp(lse - lse_full)},
 * estimated for a tail), keys scanned per step, the share of searches a recycled head skipped, memory (keys and
 * values held plus index) and the median latency of a step. "auto" is the policy {@link PolicyChooser} picks from
 * the prefill. Synthetic sessions plant heads of two kinds: local (streaming-like) and reaching back.
 */
@Command(name = "policies", sortOptions = false,
        description = "Per-head KV policies (full, streaming, retrieval, recycled, block, retrieval+tail, auto) on KV heads: error, "
                + "memory, latency.",
        customSynopsis = {
            "bench policies (--kv DIR | --synthetic N)... [--head NAMES] [--steps 256] [--k 100] [--sinks 16]",
            "               [--window 512] [--recycle 0.7,0.5] [--heads 8] [--seed 1] [--json FILE] [--plot FILE.png]"})
final class PolicyBench extends BenchCommand {

    @Option(names = "--kv", paramLabel = "DIR", description = "A directory of heads (L<l>H<h>.{q,k,v}.npy and meta.json), e.g. "
            + "../shared/data/kv/bytelm-pysrc (repeatable).")
    List<Path> dirs = new ArrayList<>();

    @Option(names = "--synthetic", paramLabel = "N",
            description = "A session of --heads planted heads of N tokens, half local (streaming-like), half reaching back (repeatable).")
    List<Integer> synthetic = new ArrayList<>();

    @Option(names = "--head", paramLabel = "NAMES", description = "Only these heads of the --kv directories (default: all).")
    String head;

    @Option(names = "--steps", paramLabel = "S", description = "Decode steps, the last S tokens of each head (default 256).")
    int steps = 256;

    @Option(names = "--k", paramLabel = "K", description = "Keys retrieved per step (default 100).")
    int k = 100;

    @Option(names = "--sinks", paramLabel = "S", description = "First tokens always attended (default 16).")
    int sinks = 16;

    @Option(names = "--window", paramLabel = "W", description = "Last tokens always attended (default 512).")
    int window = 512;

    @Option(names = "--recycle", paramLabel = "T,...", description = "The recycled policies' cosine thresholds (default 0.7,0.5; "
            + "each with and without the tail estimate); auto: a threshold per head, calibrated on the prefill's last 64 queries.")
    String recycleThresholds;

    @Option(names = "--heads", paramLabel = "H", description = "Planted heads of a synthetic session (default 8).")
    int heads = 8;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the planted heads (default 1).")
    long seed = 1;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw error against memory and against latency.")
    Path plot;

    PolicyBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    record Head(String name, float[][] keys, float[][] values, float[][] queries, float scale) {
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    static int run(String[] args, PrintStream out, PrintStream err) {
        return new PolicyBench(out, err).execute(args);
    }

    @Override
    public Integer call() {
        Set<String> only = checked(() -> head == null ? null : Set.of(head.split(",")));
        double[] recycle = checked(() -> recycleThresholds == null ? new double[] {0.7, 0.5} : Arrays.stream(recycleThresholds.split(","))
                .mapToDouble(t -> t.strip().equals("auto") ? Double.NaN : Double.parseDouble(t)).toArray());
        check(() -> {
            if (dirs.isEmpty() && synthetic.isEmpty()) {
                throw new IllegalArgumentException("give --kv DIR or --synthetic N");
            }
            if (steps < 1 || heads < 2 || synthetic.stream().anyMatch(n -> n <= 2 * 512)) {
                throw new IllegalArgumentException("--steps must be >= 1, --heads >= 2, --synthetic > 1024");
            }
            for (double t : recycle) {
                HeadPolicy.parse("recycled:" + (Double.isNaN(t) ? "auto" : Double.toString(t)), sinks, window, k); // validates
            }
        });
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Scorer scorer = Scorers.create("simd")) {
            for (Path dir : dirs) {
                for (String name : KvHead.heads(dir)) {
                    if (only == null || only.contains(name)) {
                        KvHead h = KvHead.load(dir, name, Precision.FLOAT32);
                        measure(dir.getFileName() + "/" + name, fromStores(name, h), steps, k, sinks, window, recycle, scorer, rows, out, err);
                    }
                }
            }
            for (int n : synthetic) {
                for (int x = 0; x < heads; x++) {
                    Head h = planted(x, n, x % 2 == 0, seed);
                    measure("synthetic n=" + n + "/" + h.name(), h, steps, k, sinks, window, recycle, scorer, rows, out, err);
                }
            }
            printTotals(rows, out);
            if (json != null) {
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("bench", "policies");
                report.put("machine", MachineInfo.describe());
                report.put("steps", steps);
                report.put("k", k);
                report.put("sinks", sinks);
                report.put("window", window);
                report.put("recycle_thresholds", Arrays.stream(recycle).mapToObj(t -> Double.isNaN(t) ? (Object) "auto" : (Object) t).toList());
                report.put("rows", rows);
                Files.writeString(json, JsonWriter.write(report, 2) + "\n");
                err.println("[policies] wrote " + json);
            }
            if (plot != null) {
                chart(rows, plot);
                err.println("[policies] wrote " + plot);
            }
        } catch (IOException e) {
            err.println("bench policies: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    private static Head fromStores(String name, KvHead h) {
        int n = h.tokens();
        float[][] k = new float[n][];
        float[][] v = new float[n][];
        float[][] q = new float[n][];
        for (int i = 0; i < n; i++) {
            k[i] = h.keys().row(i);
            v[i] = h.values().row(i);
            q[i] = h.queries().row(i);
        }
        return new Head(name, k, v, q, h.scale());
    }

    /**
     * A planted head of n tokens, d = 64: keys carry their position as an angle on two dimensions (under one turn),
     * the rest noise. A local head's queries point sharply at their own position (streaming-like); a reaching
     * head's at a random earlier one, with noise on the other dimensions.
     */
    static Head planted(int index, int n, boolean local, long seed) {
        int dim = 64;
        SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + index);
        float[][] keys = new float[n][dim];
        float[][] values = new float[n][dim];
        float[][] queries = new float[n][dim];
        double step = 6.0 / n;
        for (int t = 0; t < n; t++) {
            double angle = t * step;
            keys[t][0] = (float) Math.cos(angle);
            keys[t][1] = (float) Math.sin(angle);
            for (int c = 2; c < dim; c++) {
                keys[t][c] = (float) (0.3 * rnd.nextGaussian());
                queries[t][c] = (float) (0.3 * rnd.nextGaussian());
            }
            for (int c = 0; c < dim; c++) {
                values[t][c] = (float) rnd.nextGaussian();
            }
            double target = local ? angle : rnd.nextInt(t + 1) * step;
            double sharpness = 20.0 / (step * step * 64 * 64); // 20 logits down at 64 positions away
            queries[t][0] = (float) (sharpness * Math.cos(target));
            queries[t][1] = (float) (sharpness * Math.sin(target));
        }
        return new Head((local ? "local" : "reaching") + index, keys, values, queries, 1f);
    }

    private static void measure(String name, Head h, int steps, int k, int sinks, int window, double[] recycle, Scorer scorer,
                                List<Map<String, Object>> rows, PrintStream out, PrintStream err) {
        int n = h.keys().length;
        int pre = n - steps;
        if (pre <= sinks + window) {
            throw new IllegalArgumentException(name + ": " + n + " tokens leave no prefill beyond sinks + window for " + steps + " steps");
        }
        float[][] pk = Arrays.copyOf(h.keys(), pre);
        float[][] pv = Arrays.copyOf(h.values(), pre);
        float[][] pq = Arrays.copyOf(h.queries(), Math.min(pre, 100_000));
        int[] positions = new int[pq.length];
        Arrays.setAll(positions, i -> i);
        PolicyChooser.Choice choice = PolicyChooser.choose(pk, pq, positions, h.scale(), sinks, window, k, PolicyChooser.DEFAULT_MAX_MASS_OUTSIDE);
        err.printf(Locale.ROOT, "[policies] %s: %d tokens, outside mass %.3f (top-%d share %.3f) -> auto: %s%n", name, n,
                choice.massOutsideMean(), k, choice.topKShare(), choice.policy().spec());
        List<HeadPolicy> policies = new ArrayList<>(List.of(new HeadPolicy.Full(), new HeadPolicy.Streaming(sinks, window),
                new HeadPolicy.Retrieval(sinks, window, k)));
        for (double t : recycle) {
            policies.add(new HeadPolicy.Recycled(sinks, window, k, t));
            policies.add(new HeadPolicy.Recycled(sinks, window, k, t, true));
        }
        policies.add(HeadPolicy.parse("block", sinks, window, k));
        policies.add(new HeadPolicy.RetrievalTail(sinks, window, k, 0));
        List<PolicyHead> opened = new ArrayList<>();
        AttentionAwareIndex.Params params = AttentionAwareIndex.Params.defaults();
        for (HeadPolicy p : policies) {
            long t0 = System.nanoTime();
            opened.add(PolicyHead.open(p, pk, pv, pq, h.scale(), scorer, params));
            err.printf(Locale.ROOT, "[policies]   %s opened in %.1f s%n", p.spec(), (System.nanoTime() - t0) / 1e9);
        }
        int budget = KvSessionConfig.defaultBudget(n, k);
        double[][] errors = new double[policies.size()][steps];
        double[] mass = new double[policies.size()];
        long[] scanned = new long[policies.size()];
        long[][] micros = new long[policies.size()][steps];
        for (int s = 0; s < steps; s++) {
            int t = pre + s;
            for (PolicyHead head : opened) {
                head.append(h.keys()[t], h.values()[t]);
            }
            PolicyAnswer full = null;
            for (int p = 0; p < policies.size(); p++) {
                long t0 = System.nanoTime();
                PolicyAnswer a = opened.get(p).attend(h.queries()[t], budget);
                micros[p][s] = (System.nanoTime() - t0) / 1000;
                if (p == 0) {
                    full = a;
                }
                errors[p][s] = AttentionAccuracy.relativeError(a.output(), full.output());
                mass[p] += AttentionAccuracy.massKept(a.logSumExp(), full.logSumExp()) / steps;
                scanned[p] += a.keysScanned();
            }
        }
        Map<String, Map<String, Object>> byPolicy = new LinkedHashMap<>();
        for (int p = 0; p < policies.size(); p++) {
            PolicyHead head = opened.get(p);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("head", name);
            r.put("policy", policies.get(p).spec());
            r.put("relative_error_median", median(errors[p]));
            r.put("mass_kept_mean", mass[p]);
            r.put("keys_scanned_per_step", scanned[p] / (double) steps);
            r.put("searches_skipped", head.searches() + head.reuses() == 0 ? 0.0 : head.reuses() / (double) (head.searches() + head.reuses()));
            if (!Double.isNaN(head.recycleThreshold())) {
                r.put("recycle_threshold", head.recycleThreshold());
            }
            r.put("kv_bytes", head.kvBytes());
            r.put("index_bytes", head.indexBytes());
            r.put("step_us_p50", median(micros[p]));
            r.put("tokens", n);
            byPolicy.put(policies.get(p).spec(), r);
            rows.add(r);
        }
        Map<String, Object> auto = new LinkedHashMap<>(byPolicy.get(choice.policy().spec()));
        auto.put("policy", "auto");
        auto.put("auto_choice", choice.policy().spec());
        auto.put("mass_outside_static", choice.massOutsideMean());
        auto.put("top_k_share_outside", choice.topKShare());
        rows.add(auto);
        out.printf(Locale.ROOT, "%s (%d tokens, %d steps, budget %d):%n", name, n, steps, budget);
        out.printf(Locale.ROOT, "  %-22s %10s %10s %12s %9s %10s %10s%n", "policy", "err_med", "mass", "scanned", "skipped", "memory_MB", "step_us");
        for (Map<String, Object> r : byPolicy.values()) {
            printRow(r, out);
        }
        printRow(auto, out);
    }

    private static void printRow(Map<String, Object> r, PrintStream out) {
        String label = r.get("policy").equals("auto") ? "auto -> " + r.get("auto_choice") : (String) r.get("policy");
        if (label.endsWith(":auto") && r.containsKey("recycle_threshold")) {
            label += "=" + r.get("recycle_threshold");
        }
        out.printf(Locale.ROOT, "  %-22s %10.4f %10.4f %12.0f %9.2f %10.2f %10.0f%n", label, (double) r.get("relative_error_median"),
                (double) r.get("mass_kept_mean"), (double) r.get("keys_scanned_per_step"), (double) r.get("searches_skipped"),
                ((long) r.get("kv_bytes") + (long) r.get("index_bytes")) / 1e6, (double) r.get("step_us_p50"));
    }

    /** Per set of heads (the part of the name before '/'): total memory of each policy, and auto's against retrieval's. */
    private static void printTotals(List<Map<String, Object>> rows, PrintStream out) {
        Map<String, Map<String, Long>> totals = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            String set = ((String) r.get("head")).substring(0, ((String) r.get("head")).indexOf('/'));
            totals.computeIfAbsent(set, s -> new LinkedHashMap<>()).merge((String) r.get("policy"),
                    (long) r.get("kv_bytes") + (long) r.get("index_bytes"), Long::sum);
        }
        for (Map.Entry<String, Map<String, Long>> e : totals.entrySet()) {
            Map<String, Long> t = e.getValue();
            out.printf(Locale.ROOT, "%s: total memory (MB) %s; auto holds %.2f times what retrieval on every head holds%n", e.getKey(),
                    t.entrySet().stream().map(x -> x.getKey() + " " + String.format(Locale.ROOT, "%.1f", x.getValue() / 1e6)).toList(),
                    t.get("auto") / (double) t.get("retrieval"));
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** Two panels: error against memory, error against latency; a series per policy, a point per head. */
    static void chart(List<Map<String, Object>> rows, Path png) throws IOException {
        XYChart memory = panel("median relative output error vs memory", "memory per head (MB: KV held + index)");
        XYChart latency = panel("median relative output error vs latency", "p50 latency per decode step (us)");
        Map<String, List<Map<String, Object>>> bySeries = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            bySeries.computeIfAbsent((String) r.get("policy"), p -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<Map<String, Object>>> s : bySeries.entrySet()) {
            double[] mb = s.getValue().stream().mapToDouble(r -> ((long) r.get("kv_bytes") + (long) r.get("index_bytes")) / 1e6).toArray();
            double[] us = s.getValue().stream().mapToDouble(r -> Math.max(1, (double) r.get("step_us_p50"))).toArray();
            double[] error = s.getValue().stream().mapToDouble(r -> (double) r.get("relative_error_median")).toArray();
            memory.addSeries(s.getKey(), mb, error).setMarker(SeriesMarkers.CIRCLE);
            latency.addSeries(s.getKey(), us, error).setMarker(SeriesMarkers.CIRCLE);
        }
        Path parent = png.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (OutputStream os = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(List.of(memory, latency), 1, 2, os, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    private static XYChart panel(String title, String xTitle) {
        XYChart chart = new XYChartBuilder().width(720).height(600).title(title).xAxisTitle(xTitle).yAxisTitle("median relative output error")
                .build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        return chart;
    }
}
