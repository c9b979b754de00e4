package dev.attend.bench;

import dev.attend.gpu.VectorMath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/** What a benchmark ran on: CPU model, cores, last-level cache, JVM and heap, OS. */
final class MachineInfo {

    private MachineInfo() {
    }

    /** The machine as an ordered map, for the JSON output. */
    static Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel());
        m.put("cores", Runtime.getRuntime().availableProcessors());
        long llc = lastLevelCacheBytes();
        if (llc > 0) {
            m.put("llc_MB", llc / 1e6);
        }
        m.put("java", System.getProperty("java.vm.vendor", "?") + " " + Runtime.version() + " ("
                + System.getProperty("java.vm.name", "?") + ")");
        m.put("max_heap_MB", Runtime.getRuntime().maxMemory() / 1e6);
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        return m;
    }

    /**
     * The machine's speed now: multiply-adds per second (10^9) of one thread running the SIMD kernel
     * ({@code VectorMath.fourRowsTimes}) on operands that stay in L1, the best of five half-second trials. A shared
     * virtual machine's speed changes with its neighbours (the 2-core development machine measured from 15 to 42
     * on the same day); latencies measured in one run are comparable with this number next to them.
     */
    static double multiplyAddRate() {
        L1Work work = new L1Work();
        double best = 0;
        for (int trial = 0; trial < 5; trial++) {
            long calls = 0;
            long t0 = System.nanoTime();
            long end = t0 + 500_000_000L;
            while (System.nanoTime() < end) {
                work.run(1000);
                calls += 1000;
            }
            best = Math.max(best, calls * L1Work.MULTIPLY_ADDS_PER_CALL / (System.nanoTime() - t0));
        }
        return best;
    }

    /**
     * The fixed SIMD work both measurements run: {@code VectorMath.fourRowsTimes} of four 32-float rows by a 32 x 32
     * matrix, operands that stay in L1 (no memory traffic), allocated once per instance.
     */
    private static final class L1Work {
        static final int INNER = 32;
        static final int COLS = 32;
        static final double MULTIPLY_ADDS_PER_CALL = 4.0 * INNER * COLS;
        private final float[] packed = new float[4 * INNER];
        private final float[] m = new float[INNER * COLS];
        private final float[] out = new float[4 * COLS];

        L1Work() {
            Arrays.fill(packed, 0.5f);
            Arrays.fill(m, 0.25f);
        }

        void run(long calls) {
            for (long c = calls; c > 0; c--) {
                VectorMath.fourRowsTimes(packed, 0, INNER, m, 0, COLS, COLS, out, 0, COLS);
            }
        }
    }

    /**
     * The host's own latency tail, the baseline for request latencies measured beside it: the same fixed amount of
     * SIMD work on each of {@code threads} pool threads at once ({@code VectorMath.fourRowsTimes} on operands in L1:
     * no memory traffic, each thread's operands made once), sized during a second of warm-up (on the median of the last
     * runs) so that it takes about {@code targetMillis}, then run {@code timed} times unchanged. Returns {p50, p99}
     * in ms. Whatever this p99 adds to its p50 is what the machine (scheduling, neighbours, clock changes) adds to a
     * job of that length: a request cannot have a smaller tail than it.
     */
    static double[] fixedWorkLatency(int threads, double targetMillis, int timed) {
        long[] calls = {1_000};
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            ThreadLocal<L1Work> operands = ThreadLocal.withInitial(L1Work::new); // each pool thread's, made once
            Runnable share = () -> operands.get().run(calls[0]);
            long warmUntil = System.nanoTime() + 1_000_000_000L;
            double[] perCall = new double[5]; // ms per call of the last runs: their median sizes the work (one slow run does not)
            for (int run = 0; System.nanoTime() < warmUntil || run < perCall.length; run++) {
                long size = calls[0];
                perCall[run % perCall.length] = runOnce(pool, threads, share) / 1e6 / size;
                double[] sorted = Arrays.copyOf(perCall, Math.min(run + 1, perCall.length));
                Arrays.sort(sorted);
                long wanted = (long) (targetMillis / Math.max(sorted[sorted.length / 2], 1e-9));
                calls[0] = Math.max(1, Math.clamp(wanted, size / 2, size * 4));
            }
            long[] nanos = new long[timed];
            for (int r = 0; r < timed; r++) {
                nanos[r] = runOnce(pool, threads, share);
            }
            Arrays.sort(nanos);
            return new double[] {nanos[timed / 2] / 1e6, nanos[(int) Math.ceil(0.99 * timed) - 1] / 1e6};
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
    }

    /** Runs {@code share} on {@code threads} pool threads at once; returns the nanoseconds until the last ends. */
    private static long runOnce(ExecutorService pool, int threads, Runnable share)
            throws InterruptedException, ExecutionException {
        long t0 = System.nanoTime();
        List<Future<?>> parts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            parts.add(pool.submit(share));
        }
        for (Future<?> f : parts) {
            f.get();
        }
        return System.nanoTime() - t0;
    }

    /** The "model name" of /proc/cpuinfo, or the architecture when there is none. */
    static String cpuModel() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("model name") || l.startsWith("Model") || l.startsWith("Hardware"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip())
                    .filter(s -> !s.isEmpty())
                    .findFirst()
                    .orElse(System.getProperty("os.arch"));
        } catch (IOException | RuntimeException e) {
            return System.getProperty("os.arch");
        }
    }

    /**
     * Total bytes of the last-level cache over all its instances (sockets, CCDs), from
     * /sys/devices/system/cpu; 0 when unknown.
     */
    static long lastLevelCacheBytes() {
        Path cpus = Path.of("/sys/devices/system/cpu");
        if (!Files.isDirectory(cpus)) {
            return 0;
        }
        int bestLevel = 0;
        long total = 0;
        Set<String> seen = new HashSet<>();
        try (Stream<Path> dirs = Files.list(cpus)) {
            List<Path> cpuDirs = dirs.filter(p -> p.getFileName().toString().matches("cpu\\d+")).toList();
            for (Path cpu : cpuDirs) {
                Path cache = cpu.resolve("cache");
                if (!Files.isDirectory(cache)) {
                    continue;
                }
                try (Stream<Path> idx = Files.list(cache)) {
                    for (Path index : idx.filter(p -> p.getFileName().toString().startsWith("index")).toList()) {
                        String type = read(index.resolve("type"));
                        if (type == null || type.equals("Instruction")) {
                            continue;
                        }
                        int level = Integer.parseInt(read(index.resolve("level")));
                        long size = parseSize(read(index.resolve("size")));
                        String shared = read(index.resolve("shared_cpu_list"));
                        if (level > bestLevel) {
                            bestLevel = level;
                            total = 0;
                            seen.clear();
                        }
                        if (level == bestLevel && seen.add(shared)) {
                            total += size;
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return total;
    }

    private static String read(Path p) throws IOException {
        return Files.exists(p) ? Files.readString(p).strip() : null;
    }

    private static long parseSize(String s) {
        if (s == null || s.isEmpty()) {
            return 0;
        }
        String t = s.toUpperCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("K")) {
            mult = 1L << 10;
        } else if (t.endsWith("M")) {
            mult = 1L << 20;
        } else if (t.endsWith("G")) {
            mult = 1L << 30;
        }
        String digits = t.replaceAll("[^0-9]", "");
        return digits.isEmpty() ? 0 : Long.parseLong(digits) * mult;
    }
}
