package dev.attend.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * STREAM-like triad, {@code a[i] = b[i] + s * c[i]} over float arrays far larger than the last-level
 * cache: the memory bandwidth a streaming kernel can hope for. Bandwidth counts 3 x 4 bytes per
 * element (two reads, one write; write-allocate traffic is not counted, as in STREAM).
 */
public final class Triad {

    /** Bytes counted per element: b and c read, a written. */
    public static final int BYTES_PER_ELEMENT = 3 * Float.BYTES;
    /** Smallest and default smallest array, in bytes. */
    static final long MIN_ARRAY_BYTES = 16L << 20;
    static final long DEFAULT_ARRAY_BYTES = 256L << 20;

    /** Best and median bandwidth of {@code reps} timed passes with {@code threads} threads. */
    public record Result(int threads, long elements, int reps, double bestGBps, double medianGBps) {
    }

    private Triad() {
    }

    /** One pass over {@code [from, to)}; C2 vectorizes it. */
    public static void triad(float[] a, float[] b, float[] c, float s, int from, int to) {
        for (int i = from; i < to; i++) {
            a[i] = b[i] + s * c[i];
        }
    }

    /**
     * Bytes per array by default: at least 256 MiB and four times the whole last-level cache, but all
     * three arrays within 60% of the heap.
     */
    static long defaultArrayBytes(long maxHeap, long llcBytes) {
        long want = Math.max(DEFAULT_ARRAY_BYTES, 4 * llcBytes);
        long cap = maxHeap / 5;
        long bytes = Math.max(MIN_ARRAY_BYTES, Math.min(want, cap));
        return Math.min(bytes, (long) (Integer.MAX_VALUE - 64) * Float.BYTES);
    }

    /** Allocated arrays for a measurement. */
    public static final class Arrays3 {
        public final float[] a;
        public final float[] b;
        public final float[] c;

        public Arrays3(int elements) {
            a = new float[elements];
            b = new float[elements];
            c = new float[elements];
            Arrays.fill(a, 0f);
            Arrays.fill(b, 1f);
            Arrays.fill(c, 2f);
        }
    }

    /** Calls the kernel on a short range often enough for C2 to compile it as a whole method. */
    static void warmUp(Arrays3 x) {
        int len = Math.min(4096, x.a.length);
        for (int i = 0; i < 20_000; i++) {
            triad(x.a, x.b, x.c, 3f, 0, len);
        }
    }

    /**
     * Times {@code reps} full passes (after one untimed pass) with {@code threads} threads, each on a
     * contiguous slice; {@code pool} must hold at least {@code threads} threads when threads > 1.
     */
    public static Result measure(Arrays3 x, int threads, ExecutorService pool, int reps) {
        int n = x.a.length;
        long[] nanos = new long[reps];
        for (int r = -1; r < reps; r++) {
            long t0 = System.nanoTime();
            if (threads == 1) {
                triad(x.a, x.b, x.c, 3f, 0, n);
            } else {
                parallel(x, threads, pool);
            }
            long t = System.nanoTime() - t0;
            if (r >= 0) {
                nanos[r] = t;
            }
        }
        Arrays.sort(nanos);
        double bytes = (double) n * BYTES_PER_ELEMENT;
        return new Result(threads, n, reps, bytes / nanos[0], bytes / nanos[reps / 2]);
    }

    /** One pass split into {@code threads} contiguous slices on {@code pool}. */
    public static void parallel(Arrays3 x, int threads, ExecutorService pool) {
        int n = x.a.length;
        List<Future<?>> futures = new ArrayList<>(threads);
        for (int t = 0; t < threads; t++) {
            int from = (int) ((long) n * t / threads);
            int to = (int) ((long) n * (t + 1) / threads);
            futures.add(pool.submit(() -> triad(x.a, x.b, x.c, 3f, from, to)));
        }
        Futures.joinAll(futures);
    }
}
