package dev.attend.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU scorer on the Panama Vector API, multi-threaded over blocks of rows. Keys are read once per
 * block of {@link #TILE_ROWS} rows for all queries of a batch, so a batch of m queries costs one pass
 * over memory, not m. Float16 rows are widened to float32 one tile at a time.
 */
public final class SimdScorer implements Scorer {

    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Rows scored together: small enough that a tile of d = 256 float32 rows stays in L1/L2. */
    static final int TILE_ROWS = 32;
    /** Rows per parallel task. */
    private static final int CHUNK_ROWS = 1 << 14;

    private final int threads;
    private final ForkJoinPool pool;
    private final Device device;
    private volatile boolean closed;

    /** A scorer using every available processor. */
    public SimdScorer() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public SimdScorer(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads);
        this.device = new Device("simd", Device.Kind.CPU,
                SPECIES.vectorBitSize() + "-bit Vector API, " + threads + (threads == 1 ? " thread" : " threads"));
    }

    @Override
    public Device device() {
        return device;
    }

    public int threads() {
        return threads;
    }

    @Override
    public TopKResult topK(float[][] queries, VectorStore keys, int k) {
        checkOpen();
        VectorChecks.checkQueries(queries, keys.dim());
        VectorChecks.checkK(k);
        int n = keys.size();
        int kk = Math.min(k, n);
        TopKCollector[] merged = collectors(queries.length, kk);
        if (queries.length > 0 && kk > 0) {
            if (pool == null || n <= CHUNK_ROWS) {
                scanRange(queries, keys, 0, n, merged);
            } else {
                List<ForkJoinTask<TopKCollector[]>> tasks = new ArrayList<>();
                for (int from = 0; from < n; from += CHUNK_ROWS) {
                    int start = from;
                    int end = Math.min(n, from + CHUNK_ROWS);
                    tasks.add(pool.submit(() -> {
                        TopKCollector[] local = collectors(queries.length, kk);
                        scanRange(queries, keys, start, end, local);
                        return local;
                    }));
                }
                for (ForkJoinTask<TopKCollector[]> task : tasks) {
                    TopKCollector[] local = task.join();
                    for (int i = 0; i < merged.length; i++) {
                        merged[i].addAll(local[i]);
                    }
                }
            }
        }
        List<TopK> out = new ArrayList<>(merged.length);
        for (TopKCollector c : merged) {
            out.add(c.drain());
        }
        return new TopKResult(out, device);
    }

    private static TopKCollector[] collectors(int m, int k) {
        TopKCollector[] c = new TopKCollector[m];
        for (int i = 0; i < m; i++) {
            c[i] = new TopKCollector(k);
        }
        return c;
    }

    /** Offers rows [from, to) to the collectors, one tile of rows at a time. */
    private static void scanRange(float[][] queries, VectorStore keys, int from, int to, TopKCollector[] out) {
        int dim = keys.dim();
        float[] widened = keys.precision() == Precision.FLOAT16 ? new float[TILE_ROWS * dim] : null;
        float[] tileScores = new float[TILE_ROWS];
        float[] thresholds = new float[queries.length];
        for (int i = 0; i < queries.length; i++) {
            thresholds[i] = out[i].threshold();
        }
        for (int start = from; start < to; ) {
            int page = start >>> VectorStore.PAGE_SHIFT;
            int pageEnd = Math.min(to, (page + 1) << VectorStore.PAGE_SHIFT);
            int tileEnd = Math.min(pageEnd, start + TILE_ROWS);
            int rows = tileEnd - start;
            float[] data;
            int base;
            if (widened == null) {
                data = keys.float32Page(page);
                base = (start & (VectorStore.PAGE_ROWS - 1)) * dim;
            } else {
                widen(keys.float16Page(page), (start & (VectorStore.PAGE_ROWS - 1)) * dim, widened, rows * dim);
                data = widened;
                base = 0;
            }
            for (int i = 0; i < queries.length; i++) {
                dotRows(queries[i], data, base, dim, rows, tileScores);
                float threshold = thresholds[i];
                TopKCollector collector = out[i];
                for (int r = 0; r < rows; r++) {
                    if (tileScores[r] >= threshold && collector.offer(tileScores[r], start + r)) {
                        threshold = collector.threshold();
                    }
                }
                thresholds[i] = threshold;
            }
            start = tileEnd;
        }
    }

    static void widen(short[] src, int from, float[] dst, int count) {
        for (int i = 0; i < count; i++) {
            dst[i] = Float.float16ToFloat(src[from + i]);
        }
    }

    /** out[r] = q . data[base + r*dim ...] for r < rows; four rows at a time share the query loads. */
    static void dotRows(float[] q, float[] data, int base, int dim, int rows, float[] out) {
        int r = 0;
        int bound = SPECIES.loopBound(dim);
        for (; r + 4 <= rows; r += 4) {
            int o0 = base + r * dim;
            int o1 = o0 + dim;
            int o2 = o1 + dim;
            int o3 = o2 + dim;
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = FloatVector.zero(SPECIES);
            FloatVector a2 = FloatVector.zero(SPECIES);
            FloatVector a3 = FloatVector.zero(SPECIES);
            int c = 0;
            for (; c < bound; c += SPECIES.length()) {
                FloatVector qv = FloatVector.fromArray(SPECIES, q, c);
                a0 = qv.fma(FloatVector.fromArray(SPECIES, data, o0 + c), a0);
                a1 = qv.fma(FloatVector.fromArray(SPECIES, data, o1 + c), a1);
                a2 = qv.fma(FloatVector.fromArray(SPECIES, data, o2 + c), a2);
                a3 = qv.fma(FloatVector.fromArray(SPECIES, data, o3 + c), a3);
            }
            float s0 = a0.reduceLanes(VectorOperators.ADD);
            float s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD);
            float s3 = a3.reduceLanes(VectorOperators.ADD);
            for (; c < dim; c++) {
                s0 += q[c] * data[o0 + c];
                s1 += q[c] * data[o1 + c];
                s2 += q[c] * data[o2 + c];
                s3 += q[c] * data[o3 + c];
            }
            out[r] = s0;
            out[r + 1] = s1;
            out[r + 2] = s2;
            out[r + 3] = s3;
        }
        for (; r < rows; r++) {
            out[r] = dot(q, data, base + r * dim, dim);
        }
    }

    /** q . data[offset, offset + dim). */
    static float dot(float[] q, float[] data, int offset, int dim) {
        FloatVector acc = FloatVector.zero(SPECIES);
        int bound = SPECIES.loopBound(dim);
        int c = 0;
        for (; c < bound; c += SPECIES.length()) {
            acc = FloatVector.fromArray(SPECIES, q, c).fma(FloatVector.fromArray(SPECIES, data, offset + c), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; c < dim; c++) {
            s += q[c] * data[offset + c];
        }
        return s;
    }

    @Override
    public ScoreMatrix scores(float[][] queries, VectorStore keys, int from, int to) {
        checkOpen();
        VectorChecks.checkQueries(queries, keys.dim());
        VectorChecks.checkRange(from, to, keys.size());
        int cols = to - from;
        float[] out = new float[Math.multiplyExact(queries.length, cols)];
        if (pool == null || cols <= CHUNK_ROWS) {
            scoreRange(queries, keys, from, to, from, out, cols);
        } else {
            List<ForkJoinTask<?>> tasks = new ArrayList<>();
            for (int start = from; start < to; start += CHUNK_ROWS) {
                int s = start;
                int e = Math.min(to, start + CHUNK_ROWS);
                tasks.add(pool.submit(() -> scoreRange(queries, keys, s, e, from, out, cols)));
            }
            tasks.forEach(ForkJoinTask::join);
        }
        return new ScoreMatrix(out, queries.length, cols, device);
    }

    private static void scoreRange(float[][] queries, VectorStore keys, int from, int to, int origin, float[] out, int cols) {
        int dim = keys.dim();
        float[] widened = keys.precision() == Precision.FLOAT16 ? new float[TILE_ROWS * dim] : null;
        float[] tileScores = new float[TILE_ROWS];
        for (int start = from; start < to; ) {
            int page = start >>> VectorStore.PAGE_SHIFT;
            int tileEnd = Math.min(Math.min(to, (page + 1) << VectorStore.PAGE_SHIFT), start + TILE_ROWS);
            int rows = tileEnd - start;
            float[] data;
            int base;
            if (widened == null) {
                data = keys.float32Page(page);
                base = (start & (VectorStore.PAGE_ROWS - 1)) * dim;
            } else {
                widen(keys.float16Page(page), (start & (VectorStore.PAGE_ROWS - 1)) * dim, widened, rows * dim);
                data = widened;
                base = 0;
            }
            for (int i = 0; i < queries.length; i++) {
                dotRows(queries[i], data, base, dim, rows, tileScores);
                System.arraycopy(tileScores, 0, out, i * cols + (start - origin), rows);
            }
            start = tileEnd;
        }
    }

    @Override
    public AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale) {
        checkOpen();
        AttentionInputs.check(query, keys, values, subset, scale);
        int count = subset == null ? keys.size() : subset.length;
        float[] out = new float[values.dim()];
        if (count == 0) {
            return new AttentionOutput(out, Double.NEGATIVE_INFINITY, device);
        }
        float[] logits = new float[count];
        float[] row = new float[Math.max(keys.dim(), values.dim())];
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            int id = subset == null ? i : subset[i];
            keys.readRow(id, row);
            logits[i] = scale * dot(query, row, 0, keys.dim());
            max = Math.max(max, logits[i]);
        }
        double sum = 0;
        int vdim = values.dim();
        int bound = SPECIES.loopBound(vdim);
        for (int i = 0; i < count; i++) {
            float w = (float) Math.exp(logits[i] - max);
            sum += w;
            values.readRow(subset == null ? i : subset[i], row);
            FloatVector wv = FloatVector.broadcast(SPECIES, w);
            int c = 0;
            for (; c < bound; c += SPECIES.length()) {
                FloatVector.fromArray(SPECIES, row, c).fma(wv, FloatVector.fromArray(SPECIES, out, c)).intoArray(out, c);
            }
            for (; c < vdim; c++) {
                out[c] += w * row[c];
            }
        }
        float inv = (float) (1.0 / sum);
        for (int c = 0; c < vdim; c++) {
            out[c] *= inv;
        }
        return new AttentionOutput(out, max + Math.log(sum), device);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this SIMD scorer is closed");
        }
    }

    @Override
    public void close() {
        closed = true;
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
