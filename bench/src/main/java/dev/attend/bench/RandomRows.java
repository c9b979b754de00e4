package dev.attend.bench;

import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/** Uniform random rows in [-1, 1), generated in parallel chunks, appended in order. */
final class RandomRows {

    /** Rows generated per task: one store page. */
    private static final int CHUNK_ROWS = VectorStore.CHUNK_ROWS;
    /** Bound on the generation buffers in flight. */
    private static final long MAX_BUFFER_BYTES = 256L << 20;

    private RandomRows() {
    }

    /** A store of {@code n} random rows; the same seed gives the same rows whatever the thread count. */
    static VectorStore store(int n, int dim, Precision precision, long seed, int threads, ExecutorService pool) {
        VectorStore store = new VectorStore(dim, precision);
        long chunkBytes = (long) CHUNK_ROWS * dim * Float.BYTES;
        int batch = (int) Math.max(1, Math.min(2L * threads, MAX_BUFFER_BYTES / chunkBytes));
        int chunks = (n + CHUNK_ROWS - 1) / CHUNK_ROWS;
        float[][] buffers = new float[Math.min(batch, chunks)][];
        for (int c0 = 0; c0 < chunks; c0 += batch) {
            int count = Math.min(batch, chunks - c0);
            List<Future<?>> futures = new ArrayList<>(count);
            for (int b = 0; b < count; b++) {
                int chunk = c0 + b;
                int rows = Math.min(CHUNK_ROWS, n - chunk * CHUNK_ROWS);
                if (buffers[b] == null) {
                    buffers[b] = new float[CHUNK_ROWS * dim];
                }
                float[] buf = buffers[b];
                futures.add(pool.submit(() -> fill(buf, rows * dim, seed, chunk)));
            }
            Futures.joinAll(futures);
            for (int b = 0; b < count; b++) {
                int chunk = c0 + b;
                int rows = Math.min(CHUNK_ROWS, n - chunk * CHUNK_ROWS);
                store.appendRows(buffers[b], 0, rows);
            }
        }
        return store;
    }

    /** {@code m} random vectors of {@code dim} components. */
    static float[][] queries(int m, int dim, long seed) {
        float[][] q = new float[m][dim];
        for (int i = 0; i < m; i++) {
            fill(q[i], dim, seed ^ 0x5DEECE66DL, -1 - i);
        }
        return q;
    }

    private static void fill(float[] dst, int count, long seed, long chunk) {
        SplittableRandom r = new SplittableRandom(seed + 0x9E3779B97F4A7C15L * (chunk + 1));
        for (int i = 0; i < count; i++) {
            // 24 random bits scaled to [-1, 1): exact in float, no double arithmetic.
            dst[i] = (r.nextInt() >> 8) * 0x1p-23f;
        }
    }

}
