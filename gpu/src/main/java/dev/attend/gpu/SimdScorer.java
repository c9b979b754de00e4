package dev.attend.gpu;

import static dev.attend.gpu.Tiles.TILE_ROWS;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * CPU scorer on the Panama Vector API, multi-threaded over blocks of rows. Keys are read once per
 * block of {@link Tiles#TILE_ROWS} rows for all queries of a batch, so a batch of m queries costs one pass
 * over memory, not m. Float16 rows are widened to float32 one tile at a time. Its parts: {@link Tiles} (a store
 * walked a tile at a time), {@link TileMaximaScan} over {@link DimMajorTiles} (the top-k of many queries over short
 * keys), {@link SimdAttention}; the dot products are {@link VectorMath}'s.
 */
public final class SimdScorer implements Scorer {

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
                Simd.FLOATS.vectorBitSize() + "-bit Vector API, " + threads + (threads == 1 ? " thread" : " threads"));
    }

    @Override
    public Device device() {
        return device;
    }

    public int threads() {
        return threads;
    }

    /** Many queries split into tasks ({@link #splitQueries}) hand over each task's range as it ends. */
    @Override
    public void topK(float[][] queries, VectorStore keys, int k, ReadyRange ready) {
        if (!splitsQueries(queries, keys, k)) {
            ready.accept(0, queries.length, topK(queries, keys, k).perQuery()); // which checks the inputs
            return;
        }
        checkOpen();
        VectorChecks.checkQueries(queries, keys.dim());
        splitQueries(queries, keys, 0, keys.size(), Math.min(k, keys.size()), ready);
    }

    private boolean splitsQueries(float[][] queries, VectorStore keys, int k) {
        return splitsQueries(queries, keys.size(), k);
    }

    /** Whether {@code n} rows are few enough, and the queries many enough, to split the queries over the pool. */
    private boolean splitsQueries(float[][] queries, int n, int k) {
        return pool != null && n <= CHUNK_ROWS && Math.min(k, n) > 0 && queries.length >= 2 * threads;
    }

    @Override
    public TopKResult topK(float[][] queries, VectorStore keys, int k) {
        checkOpen();
        VectorChecks.checkQueries(queries, keys.dim());
        VectorChecks.checkK(k);
        int n = keys.size();
        return rows(queries, keys, 0, n, k);
    }

    /** Scans rows {@code [from, to)} only (ids stay rows of the store). */
    @Override
    public TopKResult topK(float[][] queries, VectorStore keys, int from, int to, int k) {
        checkOpen();
        VectorChecks.checkRangeTopK(queries, keys, from, to, k);
        return rows(queries, keys, from, to, k);
    }

    private TopKResult rows(float[][] queries, VectorStore keys, int from, int to, int k) {
        if (splitsQueries(queries, to - from, k)) {
            return new TopKResult(Arrays.asList(splitQueries(queries, keys, from, to, Math.min(k, to - from), null)), device);
        }
        return scanRows(queries, keys, from, to, k);
    }

    /** The top {@code k} of rows {@code [first, last)}: one range, or chunks of {@link #CHUNK_ROWS} on the pool, merged. */
    private TopKResult scanRows(float[][] queries, VectorStore keys, int first, int last, int k) {
        int kk = Math.min(k, last - first);
        TopKCollector[] merged = collectors(queries.length, kk);
        if (queries.length > 0 && kk > 0) {
            if (pool == null || last - first <= CHUNK_ROWS) {
                scanRange(queries, keys, first, last, merged);
            } else {
                List<ForkJoinTask<TopKCollector[]>> tasks = new ArrayList<>();
                for (int from = first; from < last; from += CHUNK_ROWS) {
                    int start = from;
                    int end = Math.min(last, from + CHUNK_ROWS);
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

    /**
     * Few keys, many queries (a recommender scoring candidates against one history): the queries split into tasks,
     * each with its own collectors, drained in the task. Short keys are transposed once (in parallel) and the
     * queries go in small chunks, so that a thread the OS holds up delays one chunk, which another thread takes
     * over, not a thread's share of the call.
     */
    private TopK[] splitQueries(float[][] queries, VectorStore keys, int from, int to, int k, ReadyRange ready) {
        int m = queries.length;
        TopK[] results = new TopK[m];
        List<TopK> view = Arrays.asList(results);
        boolean byTiles = dimMajor(queries, keys);
        DimMajorTiles tiles = byTiles ? DimMajorTiles.of(keys, from, to, pool, threads) : null;
        float[] packed = byTiles ? VectorMath.packByFour(queries, keys.dim()) : null;
        int chunk = byTiles ? QUERY_CHUNK : (m + threads - 1) / threads;
        List<ForkJoinTask<?>> tasks = new ArrayList<>();
        for (int q0 = 0; q0 < m; q0 += chunk) {
            int a = q0;
            int b = Math.min(m, q0 + chunk);
            tasks.add(pool.submit(() -> {
                if (byTiles) {
                    ReachingRows[] reaching = TileMaximaScan.scan(queries, packed, tiles, a, b, null, k);
                    for (int i = a; i < b; i++) {
                        results[i] = reaching[i - a].top(k);
                    }
                } else {
                    TopKCollector[] local = collectors(b - a, k);
                    scanRange(Arrays.copyOfRange(queries, a, b), keys, from, to, local);
                    for (int i = a; i < b; i++) {
                        results[i] = local[i - a].drain();
                    }
                }
                if (ready != null) {
                    ready.accept(a, b, view);
                }
            }));
        }
        tasks.forEach(ForkJoinTask::join);
        return results;
    }

    private static TopKCollector[] collectors(int m, int k) {
        TopKCollector[] c = new TopKCollector[m];
        for (int i = 0; i < m; i++) {
            c[i] = new TopKCollector(k);
        }
        return c;
    }

    /** Offers rows [from, to) to the collectors: by tile maxima for many queries of short keys, else streaming. */
    private static void scanRange(float[][] queries, VectorStore keys, int from, int to, TopKCollector[] out) {
        if (dimMajor(queries, keys)) {
            float[] packed = VectorMath.packByFour(queries, keys.dim());
            for (int start = from; start < to; start += CHUNK_ROWS) {
                DimMajorTiles tiles = DimMajorTiles.of(keys, start, Math.min(to, start + CHUNK_ROWS));
                float[] bounds = new float[queries.length];
                for (int i = 0; i < queries.length; i++) {
                    bounds[i] = out[i].threshold();
                }
                ReachingRows[] reaching = TileMaximaScan.scan(queries, packed, tiles, 0, queries.length, bounds, out[0].capacity());
                for (int i = 0; i < queries.length; i++) {
                    reaching[i].offerTo(out[i]);
                }
            }
            return;
        }
        float[] tileScores = new float[TILE_ROWS];
        float[] thresholds = new float[queries.length];
        for (int i = 0; i < queries.length; i++) {
            thresholds[i] = out[i].threshold();
        }
        // Two streams: tiles from the two halves of the range, alternately. One thread reading one
        // sequential stream stalls on memory latency; two keep more reads in flight (about 15% more
        // key bytes per second measured on the development machine).
        int mid = from + (to - from) / 2;
        Tiles first = new Tiles(keys);
        Tiles second = new Tiles(keys);
        for (int a = from, b = mid; a < mid || b < to; ) {
            if (a < mid) {
                a = scanTile(queries, first, a, mid, tileScores, thresholds, out);
            }
            if (b < to) {
                b = scanTile(queries, second, b, to, tileScores, thresholds, out);
            }
        }
    }

    /** Offers the tile starting at {@code start} (ending at a page end, {@code to} or TILE_ROWS) and returns its end. */
    private static int scanTile(float[][] queries, Tiles tiles, int start, int to, float[] tileScores, float[] thresholds,
                                TopKCollector[] out) {
        int tileEnd = tiles.load(start, to);
        int rows = tileEnd - start;
        int dim = tiles.keys.dim();
        for (int i = 0; i < queries.length; i++) {
            VectorMath.dotRows(queries[i], tiles.data, tiles.base, dim, rows, tileScores, 0);
            float threshold = thresholds[i];
            TopKCollector collector = out[i];
            for (int r = 0; r < rows; r++) {
                if (tileScores[r] >= threshold && collector.offer(tileScores[r], start + r)) {
                    threshold = collector.threshold();
                }
            }
            thresholds[i] = threshold;
        }
        return tileEnd;
    }

    /**
     * Short keys and many queries (a recommender's candidates against one history): a tile is transposed once,
     * dimension-major ({@link DimMajorTiles}), and each query's scores of its rows come from broadcast multiply-adds, one row per lane,
     * with no horizontal sum per row (which costs as much as the multiply-adds of a 32-float row).
     */
    static final int DIM_MAJOR_MAX_DIM = 128;
    static final int DIM_MAJOR_MIN_QUERIES = 8;
    /** Queries per task of a call that splits its queries (a multiple of four: {@link VectorMath#fourRowsTimes}). */
    static final int QUERY_CHUNK = 64;

    private static boolean dimMajor(float[][] queries, VectorStore keys) {
        return queries.length >= DIM_MAJOR_MIN_QUERIES && keys.dim() <= DIM_MAJOR_MAX_DIM;
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
        float[] tileScores = new float[TILE_ROWS];
        Tiles tiles = new Tiles(keys);
        for (int start = from; start < to; ) {
            int tileEnd = tiles.load(start, to);
            int rows = tileEnd - start;
            float[] data = tiles.data;
            int base = tiles.base;
            for (int i = 0; i < queries.length; i++) {
                VectorMath.dotRows(queries[i], data, base, dim, rows, tileScores, 0);
                System.arraycopy(tileScores, 0, out, i * cols + (start - origin), rows);
            }
            start = tileEnd;
        }
    }

    @Override
    public AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale) {
        checkOpen();
        return SimdAttention.attend(query, keys, values, subset, scale, device);
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
