package dev.attend.bench;

import dev.attend.gpu.Device;
import dev.attend.gpu.OpenClScorer;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Top-k scoring throughput against memory bandwidth: {@code bench scorer}.
 *
 * <p>First a STREAM-like triad measures what memory delivers to one thread and to all of them; then,
 * for every n x d x m x backend, {@code topK(queries, keys, k)} is timed on n random rows. Scoring a
 * batch reads every key once, so a memory-bound scorer's {@code key_GBps} (key bytes / time) should
 * approach the triad bandwidth of the same threading: {@code bandwidth_ratio} says how close it gets.
 *
 * <p>Runs on a reduced classpath (the gpu module's jars, the bench classes, picocli and XChart): this class and
 * everything it uses ({@link ScorerCommand}, {@link CaseTimer}, {@link ScorerReport}, {@link JsonWriter}) touch nothing
 * but attend-gpu, the JDK, picocli and XChart.
 */
public final class ScorerBench {

    /** Largest share of the heap the keys of one case may take. */
    static final double MAX_KEY_HEAP_SHARE = 0.4;
    /** Rows x queries scored during the warm-up of a case, at least. */
    static final long WARM_ROW_QUERIES = 2_000_000;

    private final ScorerOptions options;
    private final PrintStream out;
    private final PrintStream err;
    private final int threads = Runtime.getRuntime().availableProcessors();
    /** Last measured (n, ms) per backend/d/m, to estimate the cost of a larger n. */
    private final Map<String, double[]> lastCost = new HashMap<>();
    private final CaseTimer timer;
    private double triadOne;
    private double triadAll;

    ScorerBench(ScorerOptions options, PrintStream out, PrintStream err) {
        this.options = options;
        this.timer = new CaseTimer(options);
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the harness; returns the process exit status (0 ok, 2 bad arguments, 1 failure). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return new ScorerCommand(out, err).execute(args);
    }

    /** Measures what {@code options} say; returns the exit status (0 ok, 1 failure). */
    static int run(ScorerOptions options, PrintStream out, PrintStream err) {
        if (options.build()) {
            return BuildTopKBench.run(options, out, err);
        }
        if (options.png() != null && System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        try {
            ScorerReport report = new ScorerBench(options, out, err).measure();
            return report == null ? 1 : 0;
        } catch (IOException e) {
            err.println("bench scorer: " + e);
            return 1;
        }
    }

    ScorerReport measure() throws IOException {
        Map<String, Object> machine = MachineInfo.describe();
        err.printf(Locale.ROOT, "[scorer] %s, %d cores, Java %s, max heap %.0f MB%n", machine.get("cpu"), threads,
                Runtime.version(), Runtime.getRuntime().maxMemory() / 1e6);
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "bench-worker");
            t.setDaemon(true);
            return t;
        });
        try {
            Map<String, Object> triad = triad(pool);
            List<Map<String, Object>> rows = cases(pool);
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("precision", options.precision().name().toLowerCase(Locale.ROOT));
            config.put("k", options.k());
            config.put("quick", options.quick());
            config.put("backends", String.join(",", options.backends()));
            ScorerReport report = new ScorerReport(machine, config, triad, rows);
            report.print(out, triadOne, triadAll, threads);
            if (options.json() != null) {
                report.write(options.json());
                err.println("[scorer] wrote " + options.json());
            }
            if (options.png() != null) {
                try {
                    ScorerChart.write(rows, triadOne, triadAll, threads, options.png());
                    err.println("[scorer] wrote " + options.png());
                } catch (IOException | RuntimeException | Error e) {
                    err.println("[scorer] could not write " + options.png() + ": " + e);
                    throw e instanceof IOException io ? io : new IOException(e);
                }
            }
            return report;
        } finally {
            pool.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- triad

    private Map<String, Object> triad(ExecutorService pool) {
        long maxHeap = Runtime.getRuntime().maxMemory();
        long bytes = options.triadBytes() > 0 ? options.triadBytes()
                : Triad.defaultArrayBytes(maxHeap, MachineInfo.lastLevelCacheBytes());
        int elements = (int) Math.min(Integer.MAX_VALUE - 64, bytes / Float.BYTES);
        int reps = options.quick() ? 5 : 10;
        err.printf(Locale.ROOT, "[scorer] triad: 3 x %.0f MiB float arrays, best of %d%n", elements * 4.0 / (1 << 20), reps);
        Triad.Arrays3 arrays = new Triad.Arrays3(elements);
        Triad.warmUp(arrays);
        Triad.Result one = Triad.measure(arrays, 1, pool, reps);
        Triad.Result all = threads == 1 ? one : Triad.measure(arrays, threads, pool, reps);
        arrays = null;
        System.gc(); // the triad arrays are garbage now: start the cases on a clean heap
        triadOne = one.bestGBps();
        triadAll = all.bestGBps();
        err.printf(Locale.ROOT, "[scorer] triad: %.2f GB/s on 1 thread, %.2f GB/s on %d threads%n", triadOne, triadAll, threads);
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("array_MB", elements * (double) Float.BYTES / 1e6);
        t.put("elements", (long) elements);
        t.put("bytes_per_element", Triad.BYTES_PER_ELEMENT);
        t.put("reps", reps);
        t.put("threads", threads);
        t.put("single_thread_GBps", one.bestGBps());
        t.put("single_thread_GBps_median", one.medianGBps());
        t.put("all_threads_GBps", all.bestGBps());
        t.put("all_threads_GBps_median", all.medianGBps());
        return t;
    }

    // ---------------------------------------------------------------- scoring cases

    private List<Map<String, Object>> cases(ExecutorService pool) {
        List<Map<String, Object>> rows = new ArrayList<>();
        List<String> backends = new ArrayList<>(options.backends());
        if (backends.contains("opencl") && !openClAvailable()) {
            backends.remove("opencl");
        }
        long maxHeap = Runtime.getRuntime().maxMemory();
        int bytesPer = options.precision().bytes();
        int maxM = Arrays.stream(options.ms()).max().orElse(1);
        SimdScorer simd1 = backends.contains("simd-1") ? new SimdScorer(1) : null;
        SimdScorer simdAll = backends.contains("simd") ? new SimdScorer() : null;
        try {
            for (int n : options.ns()) {
                for (int d : options.ds()) {
                    long keyBytes = (long) n * d * bytesPer;
                    if (keyBytes > MAX_KEY_HEAP_SHARE * maxHeap) {
                        err.printf(Locale.ROOT, "[scorer] skip n=%d d=%d: keys take %.0f MB, over %.0f%% of the %.0f MB max heap (raise -Xmx or -XX:MaxRAMPercentage)%n",
                                n, d, keyBytes / 1e6, MAX_KEY_HEAP_SHARE * 100, maxHeap / 1e6);
                        continue;
                    }
                    try {
                        runStore(n, d, maxM, backends, simd1, simdAll, pool, maxHeap, rows);
                    } catch (OutOfMemoryError e) {
                        err.printf(Locale.ROOT, "[scorer] skip the rest of n=%d d=%d: out of memory in a %.0f MB heap (%s)%n",
                                n, d, maxHeap / 1e6, e.getMessage());
                    }
                    System.gc(); // drop this store before the next one is filled
                }
            }
        } finally {
            if (simd1 != null) {
                simd1.close();
            }
            if (simdAll != null) {
                simdAll.close();
            }
        }
        return rows;
    }

    /** Fills one store and times every m x backend on it. */
    private void runStore(int n, int d, int maxM, List<String> backends, SimdScorer simd1, SimdScorer simdAll,
                          ExecutorService pool, long maxHeap, List<Map<String, Object>> rows) {
        long t0 = System.nanoTime();
        VectorStore store = RandomRows.store(n, d, options.precision(), options.seed(), threads, pool);
        float[][] allQueries = RandomRows.queries(maxM, d, options.seed());
        err.printf(Locale.ROOT, "[scorer] n=%d d=%d %s: %.0f MB of keys filled in %.1f s%n", n, d,
                options.precision().name().toLowerCase(Locale.ROOT), store.bytes() / 1e6, (System.nanoTime() - t0) / 1e9);
        OpenCl ocl = backends.contains("opencl") ? openCl(store, allQueries, maxHeap) : null;
        try {
            for (int m : options.ms()) {
                float[][] queries = Arrays.copyOf(allQueries, m);
                TopKResult plain = null;
                double plainMs = Double.NaN;
                for (String backend : backends) {
                    Map<String, Object> row = switch (backend) {
                        case "plain" -> timeCase(backend, store, m, () -> PlainTopK.topK(queries, store, options.k()), null);
                        case "simd-1" -> timeCase(backend, store, m, () -> simd1.topK(queries, store, options.k()), null);
                        case "simd" -> timeCase(backend, store, m, () -> simdAll.topK(queries, store, options.k()), null);
                        case "opencl" -> ocl == null ? null
                                : timeCase(backend, store, m, () -> ocl.scorer().topK(queries, store, options.k()), ocl);
                        default -> throw new IllegalStateException(backend);
                    };
                    if (row == null) {
                        continue;
                    }
                    TopKResult result = (TopKResult) row.remove("_result");
                    double ms = (Double) row.get("ms_median");
                    if (backend.equals("plain")) {
                        plain = result;
                        plainMs = ms;
                    }
                    if (plain != null) {
                        row.put("ratio_to_plain", plainMs / ms);
                        row.put("agree_with_plain", agreement(plain, result));
                    }
                    ScorerReport.reorder(row);
                    rows.add(row);
                    err.println("[scorer]   " + ScorerReport.summary(row));
                }
            }
        } finally {
            if (ocl != null) {
                ocl.scorer().close();
            }
        }
    }

    private boolean openClAvailable() {
        try {
            if (OpenClScorer.available()) {
                return true;
            }
            err.println("[scorer] skip opencl: no OpenCL device found (OpenClScorer.available() is false)");
        } catch (Throwable e) {
            err.println("[scorer] skip opencl: OpenCL runtime unusable here: " + e);
        }
        return false;
    }

    /** An OpenCL scorer holding one store's keys, with its cold-start costs. */
    record OpenCl(OpenClScorer scorer, double firstCallMs, double uploadMs) {
    }

    /**
     * A fresh OpenCL scorer for {@code store}: its first call uploads the keys (and builds the kernel);
     * the upload time reported is that first call minus the best of the steady calls that follow (1 with --quick, else 3).
     */
    private OpenCl openCl(VectorStore store, float[][] queries, long maxHeap) {
        int n = store.size();
        int d = store.dim();
        // The Aparapi kernel keeps a host copy of the keys (float32, blocked) and a 16 x n score block.
        long host = (long) n * d * Float.BYTES + 16L * n * Float.BYTES;
        long used = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        if (used + host > 0.85 * maxHeap) {
            err.printf(Locale.ROOT, "[scorer] skip opencl n=%d d=%d: its host-side buffers (%.0f MB) do not fit next to the store in the %.0f MB heap%n",
                    n, d, host / 1e6, maxHeap / 1e6);
            return null;
        }
        OpenClScorer scorer = new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU);
        float[][] one = Arrays.copyOf(queries, 1);
        long t0 = System.nanoTime();
        TopKResult first = scorer.topK(one, store, options.k());
        double firstMs = (System.nanoTime() - t0) / 1e6;
        double steady = Double.MAX_VALUE;
        for (int i = 0, calls = options.quick() ? 1 : 3; i < calls; i++) {
            long t1 = System.nanoTime();
            CaseTimer.consume(scorer.topK(one, store, options.k()));
            steady = Math.min(steady, (System.nanoTime() - t1) / 1e6);
        }
        err.printf(Locale.ROOT, "[scorer] opencl n=%d d=%d on %s: first call %.1f ms (upload + kernel build), steady %.2f ms, %.0f MB resident%n",
                n, d, first.device(), firstMs, steady, scorer.residentBytes(store) / 1e6);
        if (!"opencl".equals(first.device().backend())) {
            err.println("[scorer] warning: opencl fell back to " + first.device() + "; its rows are CPU numbers");
        }
        return new OpenCl(scorer, firstMs, Math.max(0, firstMs - steady));
    }

    /** Times one case, or returns null (after saying why) when it would take too long. */
    private Map<String, Object> timeCase(String backend, VectorStore store, int m, Supplier<TopKResult> call, OpenCl ocl) {
        int n = store.size();
        int d = store.dim();
        String costKey = backend + "/" + d + "/" + m;
        double[] prev = lastCost.get(costKey);
        if (prev != null) {
            double estimateS = prev[1] * n / prev[0] / 1e3;
            if (estimateS > options.maxCallSeconds()) {
                err.printf(Locale.ROOT, "[scorer] skip %s n=%d d=%d m=%d: one call would take about %.0f s (from n=%d), over --max-call-s %.0f%n",
                        backend, n, d, m, estimateS, (long) prev[0], options.maxCallSeconds());
                return null;
            }
        }
        err.printf(Locale.ROOT, "[scorer] %s n=%d d=%d m=%d ...%n", backend, n, d, m);
        // OpenCL's host code was warmed by the calls that uploaded the keys; its kernel is compiled once.
        long minWarm = ocl != null ? 1 : Math.min(10_000, (WARM_ROW_QUERIES + (long) n * m - 1) / ((long) n * m));
        CaseTimer.Timing t = timer.time(call, minWarm);
        lastCost.put(costKey, new double[] {n, t.medianMs()});
        Device device = t.result().device();
        double keyBytes = (double) n * d * store.precision().bytes();
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("name", backend + "/n=" + n + "/d=" + d + "/m=" + m + "/k=" + options.k());
        row.put("backend", backend);
        row.put("device", device.toString());
        row.put("n", n);
        row.put("d", d);
        row.put("m", m);
        row.put("k", options.k());
        row.put("bytes_per_component", store.precision().bytes());
        row.put("ms_median", t.medianMs());
        row.put("ms_best", t.bestMs());
        row.put("reps", t.reps());
        double gbps = keyBytes / (t.medianMs() * 1e6);
        row.put("key_GBps", gbps);
        row.put("key_GBps_best", keyBytes / (t.bestMs() * 1e6));
        row.put("gflops", 2.0 * n * d * m / (t.medianMs() * 1e6));
        double triad = switch (backend) {
            case "plain", "simd-1" -> triadOne;
            case "simd" -> triadAll;
            default -> device.kind() == Device.Kind.CPU ? triadAll : Double.NaN; // a GPU's memory is not the CPU's
        };
        if (Double.isFinite(triad) && triad > 0) {
            row.put("bandwidth_ratio", gbps / triad);
            row.put("bandwidth_ratio_best", keyBytes / (t.bestMs() * 1e6) / triad); // best vs best, as STREAM reports
        }
        row.put("key_store_MB", store.bytes() / 1e6);
        row.put("heap_used_MB", (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) / 1e6);
        if (ocl != null) {
            row.put("device_resident_MB", ocl.scorer().residentBytes(store) / 1e6);
            row.put("upload_ms", ocl.uploadMs());
            row.put("first_call_ms", ocl.firstCallMs());
        }
        row.put("_result", t.result());
        return row;
    }

    /** Fraction of plain's top-k ids that {@code other} also returned, over all queries. */
    static double agreement(TopKResult plain, TopKResult other) {
        long same = 0;
        long total = 0;
        for (int i = 0; i < plain.perQuery().size(); i++) {
            Set<Integer> ids = new HashSet<>();
            for (int id : plain.get(i).ids()) {
                ids.add(id);
            }
            total += ids.size();
            for (int id : other.get(i).ids()) {
                if (ids.contains(id)) {
                    same++;
                }
            }
        }
        return total == 0 ? 1.0 : (double) same / total;
    }
}
