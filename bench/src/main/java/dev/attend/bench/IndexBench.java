package dev.attend.bench;

import dev.attend.bench.workload.KvWorkload;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKResult;
import dev.attend.index.SearchResult;
import dev.attend.index.VectorIndex;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Vector indexes on attention workloads: {@code bench index}.
 *
 * <p>For every workload (each head of each {@code --kv} directory, each {@code --synthetic} size) and every
 * requested index: build it over the workload's keys (key row i under id i), then search the test queries
 * (decode queries: out-of-distribution) and the held-out keys (in-distribution) at each budget, one query at a
 * time on one thread, and compare with the exact top-k from the gpu scorer. Reported per index, query set and
 * budget: recall@10 and recall@100 against the exact top-10/top-100, the scanned fraction (exact distance
 * computations from {@code SearchStats} / N; mean and median over queries), queries/s, build time and
 * {@code memoryBytes()}. The workloads' statistics (query-key gap, top-100 softmax mass, and, with
 * {@code --ivf}, the IVF scan fractions) are reported beside them; synthetic ones also with the statistics of
 * the real head their parameters were fitted to. Its command line is {@link IndexCommand}, its workloads
 * {@link PlannedWorkload}s, its table {@link IndexTable}.
 */
public final class IndexBench {

    /** Training queries generated for a synthetic workload, at most. */
    static final int SYNTHETIC_TRAIN_CAP = 100_000;
    /** Queries run once untimed before the timed pass of each index (JIT warm-up). */
    static final int WARM_QUERIES = 32;

    private final IndexOptions options;
    private final PrintStream out;
    private final PrintStream err;

    IndexBench(IndexOptions options, PrintStream out, PrintStream err) {
        this.options = options;
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return new IndexCommand(out, err).execute(args);
    }

    /** Measures what {@code options} say; returns the exit status (0 ok, 2 a workload that cannot be, 1 failure). */
    static int run(IndexOptions options, PrintStream out, PrintStream err) {
        if (options.plot() != null && System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        try {
            new IndexBench(options, out, err).measure();
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("bench index: " + e.getMessage());
            return 2;
        } catch (IOException | RuntimeException e) {
            err.println("bench index: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    Map<String, Object> measure() throws IOException {
        List<PlannedWorkload> plan = PlannedWorkload.plan(options);
        List<Map<String, Object>> rows = new ArrayList<>();
        List<Map<String, Object>> workloads = new ArrayList<>();
        List<Map<String, Object>> skipped = new ArrayList<>();
        Map<String, IndexFactory> factories = new LinkedHashMap<>();
        for (String name : options.indexes()) {
            factories.put(name, IndexFactories.get(name));
        }
        Path temp = Files.createTempDirectory("attend-index-bench");
        Scorer scorer = Scorers.create(options.scorer());
        err.printf(Locale.ROOT, "[index] %s, %d cores, max heap %.0f MB, scorer %s%n", MachineInfo.cpuModel(),
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() / 1e6, scorer.device());
        try {
            for (PlannedWorkload p : plan) {
                long t0 = System.nanoTime();
                KvWorkload w = p.load().get();
                w = PlannedWorkload.limitQueries(w, options.queries());
                err.printf(Locale.ROOT, "[index] %s: %s (%.1f s)%n", p.label(), w, (System.nanoTime() - t0) / 1e9);
                workloads.add(p.describe(w, options.ivf(), err));
                runWorkload(p, w, factories, scorer, temp, rows, skipped);
            }
        } finally {
            scorer.close();
            deleteTree(temp);
        }
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("k", options.k());
        config.put("budgets", Arrays.stream(options.budgets()).mapToObj(JsonWriter::number).reduce((a, b) -> a + "," + b).orElse(""));
        config.put("indexes", String.join(",", options.indexes()));
        config.put("scorer", options.scorer());
        config.put("seed", options.seed());
        config.put("search_threads", 1);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("bench", "index");
        report.put("machine", MachineInfo.describe());
        report.put("config", config);
        report.put("workloads", workloads);
        report.put("skipped", skipped);
        report.put("rows", rows);
        IndexTable.print(out, workloads, rows, skipped);
        if (options.json() != null) {
            Path parent = options.json().toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(options.json(), JsonWriter.write(report, 2) + "\n");
            err.println("[index] wrote " + options.json());
        }
        if (options.plot() != null) {
            IndexChart.write(rows, options.plot());
            err.println("[index] wrote " + options.plot());
        }
        return report;
    }

    /** Exact top-k ids of each query, as sets (top-10 and top-k). */
    private record Truth(List<Set<Long>> top10, List<Set<Long>> topK) {

        static Truth of(Scorer scorer, KvWorkload w, float[][] queries, int k) {
            List<Set<Long>> t10 = new ArrayList<>();
            List<Set<Long>> tk = new ArrayList<>();
            int batch = 256;
            for (int from = 0; from < queries.length; from += batch) {
                TopKResult r = scorer.topK(Arrays.copyOfRange(queries, from, Math.min(queries.length, from + batch)), w.keys(), k);
                for (TopK t : r.perQuery()) {
                    Set<Long> a = new HashSet<>();
                    Set<Long> b = new HashSet<>();
                    for (int i = 0; i < t.size(); i++) {
                        if (i < 10) {
                            a.add((long) t.ids()[i]);
                        }
                        b.add((long) t.ids()[i]);
                    }
                    t10.add(a);
                    tk.add(b);
                }
            }
            return new Truth(t10, tk);
        }
    }

    private void runWorkload(PlannedWorkload p, KvWorkload w, Map<String, IndexFactory> factories, Scorer scorer, Path temp,
                             List<Map<String, Object>> rows, List<Map<String, Object>> skipped) {
        long t0 = System.nanoTime();
        Map<String, float[][]> querySets = new LinkedHashMap<>();
        querySets.put("ood", w.testQueries());
        if (options.inDistribution() && w.heldOutKeys().length > 0) {
            querySets.put("id", w.heldOutKeys());
        }
        Map<String, Truth> truths = new LinkedHashMap<>();
        querySets.forEach((set, q) -> truths.put(set, Truth.of(scorer, w, q, options.k())));
        err.printf(Locale.ROOT, "[index]   exact top-%d of %s queries on %s (%.1f s)%n", options.k(), querySets.keySet(),
                scorer.device().name(), (System.nanoTime() - t0) / 1e9);
        int train = options.train() >= 0 ? options.train() : w.trainingQueries().size();
        for (IndexFactory f : factories.values()) {
            String reason = f.unavailableReason();
            if (reason != null) {
                skip(skipped, p, f.name(), reason);
                continue;
            }
            VectorIndex index;
            // With --cached-topk a first build fills the cache and the second, timed, takes its exact top-k from it.
            CachedTopKScorer cached = options.cachedTopK() ? new CachedTopKScorer(scorer) : null;
            Scorer buildScorer = cached != null ? cached : scorer;
            IndexFactory.Context context = new IndexFactory.Context(buildScorer, train, temp, err, options.online());
            long b0 = System.nanoTime();
            try {
                if (cached != null) {
                    f.build(w, context).close();
                    b0 = System.nanoTime();
                }
                index = f.build(w, context);
            } catch (Exception | LinkageError | OutOfMemoryError e) {
                skip(skipped, p, f.name(), "build failed: " + e);
                continue;
            }
            double buildS = (System.nanoTime() - b0) / 1e9;
            try (index) {
                long memory = index.memoryBytes();
                err.printf(Locale.ROOT, "[index]   %s built in %.1f s, %.1f MB%n", f.name(), buildS, memory / 1e6);
                for (Map.Entry<String, float[][]> e : querySets.entrySet()) {
                    Truth truth = truths.get(e.getKey());
                    for (int budget : budgets(f, w.size())) {
                        Map<String, Object> row = searchRow(p, w, f.name(), index, e.getKey(), e.getValue(), truth, budget);
                        row.put("build_s", buildS);
                        row.put("build_topk_cached", cached != null);
                        if (cached != null) {
                            row.put("build_topk_cache_hits", cached.hits());
                        }
                        row.put("memory_MB", memory / 1e6);
                        rows.add(row);
                        err.printf(Locale.ROOT, "[index]     %-9s %-3s budget %-8d recall@10 %.3f recall@100 %.3f scanned %.4f %8.0f q/s%n",
                                f.name(), e.getKey(), budget, (Double) row.get("recall_at_10"), (Double) row.get("recall_at_100"),
                                (Double) row.get("scanned_fraction"), (Double) row.get("qps"));
                    }
                }
            } catch (RuntimeException | OutOfMemoryError e) {
                skip(skipped, p, f.name(), "search failed: " + e);
            }
        }
    }

    private void skip(List<Map<String, Object>> skipped, PlannedWorkload p, String index, String reason) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("workload", p.label());
        s.put("index", index);
        s.put("reason", reason);
        skipped.add(s);
        err.printf("[index]   skip %s on %s: %s%n", index, p.label(), reason);
    }

    /** Budgets in distance computations: fractions of n (values < 1) or counts; one (n) for an exact index. */
    private int[] budgets(IndexFactory f, int n) {
        if (!f.usesBudget()) {
            return new int[] {Math.max(1, n)};
        }
        return Arrays.stream(options.budgets()).mapToInt(b -> (int) Math.max(1, Math.min(Integer.MAX_VALUE, b < 1 ? Math.round(b * n) : b)))
                .distinct().sorted().toArray();
    }

    private Map<String, Object> searchRow(PlannedWorkload p, KvWorkload w, String indexName, VectorIndex index, String set,
                                          float[][] queries, Truth truth, int budget) {
        int k = options.k();
        for (int i = 0; i < Math.min(WARM_QUERIES, queries.length); i++) {
            index.search(queries[i], k, budget);
        }
        SearchResult[] results = new SearchResult[queries.length];
        long t0 = System.nanoTime();
        for (int i = 0; i < queries.length; i++) {
            results[i] = index.search(queries[i], k, budget);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        int n = w.size();
        double r10 = 0;
        double rk = 0;
        double[] scanned = new double[queries.length];
        double visited = 0;
        boolean visitedKnown = true;
        for (int i = 0; i < queries.length; i++) {
            SearchResult r = results[i];
            r10 += recall(r.ids(), Math.min(10, r.size()), truth.top10().get(i));
            rk += recall(r.ids(), r.size(), truth.topK().get(i));
            scanned[i] = (double) r.stats().distanceComputations() / n;
            if (r.stats().nodesVisited() < 0) {
                visitedKnown = false;
            }
            visited += r.stats().nodesVisited();
        }
        int m = Math.max(queries.length, 1);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("name", p.label() + " " + set + " " + indexName + " budget=" + budget);
        row.put("workload", p.label());
        row.put("kind", p.kind());
        row.put("queries", set);
        row.put("index", indexName);
        row.put("method", queries.length > 0 ? results[0].stats().method() : "");
        row.put("n", n);
        row.put("d", w.dim());
        row.put("k", k);
        row.put("budget", budget);
        row.put("budget_fraction", (double) budget / n);
        row.put("query_count", queries.length);
        row.put("recall_at_10", r10 / m);
        row.put("recall_at_" + k, rk / m);
        if (k != 100) {
            row.put("recall_at_100", rk / m); // the plotted figure: recall at the k asked
        }
        row.put("scanned_fraction", Arrays.stream(scanned).average().orElse(0));
        row.put("scanned_fraction_median", median(scanned));
        row.put("scanned_fraction_max", Arrays.stream(scanned).max().orElse(0));
        if (visitedKnown) {
            row.put("nodes_visited_mean", visited / m);
        }
        row.put("qps", queries.length / Math.max(seconds, 1e-9));
        row.put("ms_per_query", seconds * 1e3 / m);
        return row;
    }

    /** Share of {@code truth} among the first {@code count} ids (over the truth's size, capped at {@code count}'s ideal). */
    static double recall(long[] ids, int count, Set<Long> truth) {
        if (truth.isEmpty()) {
            return 1.0;
        }
        int hit = 0;
        for (int i = 0; i < count; i++) {
            if (truth.contains(ids[i])) {
                hit++;
            }
        }
        return (double) hit / truth.size();
    }

    private static double median(double[] v) {
        if (v.length == 0) {
            return 0;
        }
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // a scratch file left in the temp folder
                }
            });
        } catch (IOException ignored) {
            // nothing to delete
        }
    }
}
