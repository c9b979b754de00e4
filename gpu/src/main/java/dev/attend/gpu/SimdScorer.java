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

    static final VectorSpecies<Float> SPECIES = Simd.FLOATS;
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

    /** Many queries split into tasks ({@link #splitQueries}) hand over each task's range as it ends. */
    @Override
    public void topK(float[][] queries, VectorStore keys, int k, ReadyRange ready) {
        if (!splitsQueries(queries, keys, k)) {
            ready.accept(0, queries.length, topK(queries, keys, k).perQuery()); // which checks the inputs
            return;
        }
        checkOpen();
        VectorChecks.checkQueries(queries, keys.dim());
        splitQueries(queries, keys, Math.min(k, keys.size()), ready);
    }

    private boolean splitsQueries(float[][] queries, VectorStore keys, int k) {
        int n = keys.size();
        return pool != null && n <= CHUNK_ROWS && Math.min(k, n) > 0 && queries.length >= 2 * threads;
    }

    @Override
    public TopKResult topK(float[][] queries, VectorStore keys, int k) {
        checkOpen();
        VectorChecks.checkQueries(queries, keys.dim());
        VectorChecks.checkK(k);
        int n = keys.size();
        int kk = Math.min(k, n);
        if (splitsQueries(queries, keys, k)) {
            return new TopKResult(java.util.Arrays.asList(splitQueries(queries, keys, kk, null)), device);
        }
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

    /**
     * Few keys, many queries (a recommender scoring candidates against one history): the queries split into tasks,
     * each with its own collectors, drained in the task. Short keys are transposed once (in parallel) and the
     * queries go in small chunks, so that a thread the OS holds up delays one chunk, which another thread takes
     * over, not a thread's share of the call.
     */
    private TopK[] splitQueries(float[][] queries, VectorStore keys, int k, ReadyRange ready) {
        int m = queries.length;
        TopK[] results = new TopK[m];
        List<TopK> view = java.util.Arrays.asList(results);
        boolean byTiles = dimMajor(queries, keys);
        DimMajorTiles tiles = byTiles ? DimMajorTiles.of(keys, 0, keys.size(), pool, threads) : null;
        float[] packed = byTiles ? VectorMath.packByFour(queries, keys.dim()) : null;
        int chunk = byTiles ? QUERY_CHUNK : (m + threads - 1) / threads;
        List<ForkJoinTask<?>> tasks = new ArrayList<>();
        for (int q0 = 0; q0 < m; q0 += chunk) {
            int a = q0;
            int b = Math.min(m, q0 + chunk);
            tasks.add(pool.submit(() -> {
                if (byTiles) {
                    ReachingRows[] reaching = scanByTileMaxima(queries, packed, tiles, a, b, null, k);
                    for (int i = a; i < b; i++) {
                        results[i] = reaching[i - a].top(k);
                    }
                } else {
                    TopKCollector[] local = collectors(b - a, k);
                    scanRange(java.util.Arrays.copyOfRange(queries, a, b), keys, 0, keys.size(), local);
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
                ReachingRows[] reaching = scanByTileMaxima(queries, packed, tiles, 0, queries.length, bounds, out[0].capacity());
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
            dotRows(queries[i], tiles.data, tiles.base, dim, rows, tileScores);
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
     * Many queries, short keys (a recommender's candidates against one history): offering every score that beats a
     * query's running threshold costs k ln(n/k) heap operations per query, which measured more than the scores
     * themselves. Instead, pass 1 scores every full tile dimension-major, four queries at a time
     * ({@link VectorMath#fourRowsTimes} over the tile transposed once), and keeps only each query's maximum per
     * tile (a partial tile at a page end or the range end stays out of the bounds and is scored in pass 2 for
     * every query). Any k tiles whose maxima reach t0
     * hold k scores of at least t0, so the k-th largest tile maximum is a lower bound of the query's k-th best
     * score: every score of the top k lies in a tile whose maximum reaches t0, and only those tiles (about k) are
     * scored again in pass 2, their rows that reach t0 (about k) kept and sorted once ({@link ReachingRows}). Pass 2 reads the tiles transposed for pass 1 and sums in the same order,
     * so its scores are the bits pass 1 saw; it goes tile by tile, two of the tile's queries at a time, so that a
     * tile is read from memory once for the chunk's queries (rescoring query by query, pass 2 waited on
     * memory for the 4 KiB of each tile). Returns the rows kept for query {@code q0 + i} at {@code i}; {@code bounds}
     * (or null) are lower bounds the queries already have (a collector's threshold from an earlier range).
     */
    private static ReachingRows[] scanByTileMaxima(float[][] queries, float[] packed, DimMajorTiles tiles, int q0, int q1, float[] bounds,
                                                   int k) {
        int m = q1 - q0;
        int tileCount = tiles.count;
        float[] tileMax = TILE_MAXIMA.floats(m * tileCount); // [query - q0][tile]
        tileMaxima(queries, packed, tiles, q0, m, tileMax);
        // Each query's threshold: the k-th largest of its tile maxima (or the bound it came with, if higher).
        float[] thresholds = new float[m];
        float[] work = new float[tileCount];
        ReachingRows[] out = new ReachingRows[m];
        for (int i = 0; i < m; i++) {
            float threshold = bounds == null ? Float.NEGATIVE_INFINITY : bounds[i];
            if (tileCount >= k) {
                threshold = Math.max(threshold, kthLargest(tileMax, i * tileCount, tileCount, k, work));
            }
            thresholds[i] = threshold;
            out[i] = new ReachingRows();
        }
        // A partial tile was left out of the bounds (-infinity): every query scores it again.
        for (int t = 0; t < tileCount; t++) {
            if (tiles.start[t + 1] - tiles.start[t] != TILE_ROWS) {
                for (int i = 0; i < m; i++) {
                    tileMax[i * tileCount + t] = Float.POSITIVE_INFINITY;
                }
            }
        }
        // The (tile, query) pairs to score again, grouped by tile: a tile is read once for all its queries.
        int[] first = new int[tileCount + 1];
        forEachTileReaching(tileMax, tileCount, thresholds, m, (t, i) -> first[t + 1]++);
        for (int t = 0; t < tileCount; t++) {
            first[t + 1] += first[t];
        }
        int[] queriesOfTile = new int[first[tileCount]];
        int[] next = first.clone();
        forEachTileReaching(tileMax, tileCount, thresholds, m, (t, i) -> queriesOfTile[next[t]++] = i);
        rescore(queries, tiles, q0, first, queriesOfTile, thresholds, out);
        return out;
    }

    /** Pass 1: {@code tileMax[i * tiles.count + t]} = the maximum score of query {@code q0 + i} in tile t. */
    private static void tileMaxima(float[][] queries, float[] packed, DimMajorTiles tiles, int q0, int m, float[] tileMax) {
        int dim = tiles.dim;
        int tileCount = tiles.count;
        float[] scores = new float[4 * TILE_ROWS];
        for (int t = 0; t < tileCount; t++) {
            int start = tiles.start[t];
            int rows = tiles.start[t + 1] - start;
            if (rows == TILE_ROWS) {
                int tOffset = t * dim * TILE_ROWS;
                int i = 0;
                if (TILE_ROWS == 4 * SPECIES.length()) {
                    for (; i + 4 <= m; i += 4) {
                        int block = (q0 + i) * dim;
                        twoTileMaxima(packed, block, dim, tiles.transposed, tOffset, tileMax, i * tileCount + t, (i + 1) * tileCount + t);
                        twoTileMaxima(packed, block + 2, dim, tiles.transposed, tOffset, tileMax, (i + 2) * tileCount + t,
                                (i + 3) * tileCount + t);
                    }
                } else {
                    for (; i + 4 <= m; i += 4) {
                        VectorMath.fourRowsTimes(packed, (q0 + i) * dim, dim, tiles.transposed, tOffset, TILE_ROWS, TILE_ROWS, scores,
                                0, TILE_ROWS);
                        for (int b = 0; b < 4; b++) {
                            tileMax[(i + b) * tileCount + t] = tileMaximum(scores, b * TILE_ROWS);
                        }
                    }
                }
                for (; i < m; i++) {
                    dotRowsDimMajor(queries[q0 + i], tiles.transposed, tOffset, dim, scores);
                    tileMax[i * tileCount + t] = tileMaximum(scores, 0);
                }
            } else {
                // A partial tile (at a page end or the range's end) is scored row-major, whose horizontal sums
                // (reduceLanes) may differ in their last bit between two compilations of the same code: its
                // maximum could then sit a bit above every score pass 2 finds, and a query lose its best row.
                // It stays out of the bounds and pass 2 scores it for every query (one such tile per range).
                for (int i = 0; i < m; i++) {
                    tileMax[i * tileCount + t] = Float.NEGATIVE_INFINITY;
                }
            }
        }
    }

    private interface TileQueryConsumer {
        void accept(int tile, int query);
    }

    /** Calls {@code action} for every tile whose maximum for a query reaches the query's threshold (the set bits of a vector compare). */
    private static void forEachTileReaching(float[] tileMax, int tileCount, float[] thresholds, int m, TileQueryConsumer action) {
        int lanes = SPECIES.length();
        for (int i = 0; i < m; i++) {
            int row = i * tileCount;
            float threshold = thresholds[i];
            FloatVector bound = FloatVector.broadcast(SPECIES, threshold);
            int t = 0;
            for (; t + lanes <= tileCount; t += lanes) {
                for (long bits = FloatVector.fromArray(SPECIES, tileMax, row + t).compare(VectorOperators.GE, bound).toLong(); bits != 0;
                     bits &= bits - 1) {
                    action.accept(t + Long.numberOfTrailingZeros(bits), i);
                }
            }
            for (; t < tileCount; t++) {
                if (tileMax[row + t] >= threshold) {
                    action.accept(t, i);
                }
            }
        }
    }

    /**
     * Pass 2: the rows of the tiles that can hold a query's top K, scored again with pass 1's sums (the same bits: a
     * score equal to a tile maximum still reaches its threshold) and the rows that reach it kept; two queries at a time on a full tile.
     */
    private static void rescore(float[][] queries, DimMajorTiles tiles, int q0, int[] first, int[] queriesOfTile, float[] thresholds,
                                ReachingRows[] out) {
        int dim = tiles.dim;
        float[] scores = new float[2 * TILE_ROWS];
        Tiles partial = new Tiles(tiles.keys);
        for (int t = 0; t < tiles.count; t++) {
            int start = tiles.start[t];
            int rows = tiles.start[t + 1] - start;
            int x = first[t];
            int end = first[t + 1];
            if (rows == TILE_ROWS) {
                int tOffset = t * dim * TILE_ROWS;
                for (; x + 2 <= end; x += 2) {
                    int a = queriesOfTile[x];
                    int b = queriesOfTile[x + 1];
                    dotTwoQueriesDimMajor(queries[q0 + a], queries[q0 + b], tiles.transposed, tOffset, dim, scores);
                    keep(scores, 0, TILE_ROWS, start, thresholds[a], out[a]);
                    keep(scores, TILE_ROWS, TILE_ROWS, start, thresholds[b], out[b]);
                }
                if (x < end) {
                    int a = queriesOfTile[x];
                    dotRowsDimMajor(queries[q0 + a], tiles.transposed, tOffset, dim, scores);
                    keep(scores, 0, TILE_ROWS, start, thresholds[a], out[a]);
                }
            } else if (x < end) {
                partial.load(start, tiles.start[t + 1]);
                for (; x < end; x++) {
                    int a = queriesOfTile[x];
                    dotRows(queries[q0 + a], partial.data, partial.base, dim, rows, scores);
                    keep(scores, 0, rows, start, thresholds[a], out[a]);
                }
            }
        }
    }

    /**
     * The rows [from, to) of a store in tiles of {@link #TILE_ROWS} rows (shorter at a page end and at {@code to}),
     * the full ones transposed dimension-major ({@code transposed[t * dim * TILE_ROWS + c * TILE_ROWS + r]}): built
     * once per call, then read by every task of it. The array is the building thread's scratch, valid until that
     * thread builds again (the tasks end before it returns).
     */
    private static final class DimMajorTiles {
        final VectorStore keys;
        final int dim;
        final int count;
        final int[] start; // count + 1 entries: tile t holds rows [start[t], start[t + 1])
        final float[] transposed;

        private DimMajorTiles(VectorStore keys, int count, int[] start, float[] transposed) {
            this.keys = keys;
            this.dim = keys.dim();
            this.count = count;
            this.start = start;
            this.transposed = transposed;
        }

        static DimMajorTiles of(VectorStore keys, int from, int to) {
            return of(keys, from, to, null, 1);
        }

        /** The same, transposing with {@code parts} tasks on {@code pool} (when not null). */
        static DimMajorTiles of(VectorStore keys, int from, int to, ForkJoinPool pool, int parts) {
            int dim = keys.dim();
            int maxTiles = (to - from) / TILE_ROWS + (to - from) / keys.pageRows() + 2;
            int[] start = new int[maxTiles + 1];
            Tiles tiles = new Tiles(keys);
            int count = 0;
            for (int s = from; s < to; count++) {
                start[count] = s;
                s = tiles.load(s, to);
            }
            start[count] = to;
            float[] transposed = TRANSPOSED.floats(count * dim * TILE_ROWS);
            DimMajorTiles out = new DimMajorTiles(keys, count, start, transposed);
            if (pool == null || parts == 1) {
                out.transpose(0, count);
            } else {
                List<ForkJoinTask<?>> tasks = new ArrayList<>();
                for (int p = 0; p < parts; p++) {
                    int t0 = count * p / parts;
                    int t1 = count * (p + 1) / parts;
                    tasks.add(pool.submit(() -> out.transpose(t0, t1)));
                }
                tasks.forEach(ForkJoinTask::join);
            }
            return out;
        }

        /** Transposes the full tiles among tiles [t0, t1). */
        private void transpose(int t0, int t1) {
            Tiles tiles = new Tiles(keys);
            for (int t = t0; t < t1; t++) {
                int end = tiles.load(start[t], start[t + 1]);
                if (end - start[t] == TILE_ROWS) {
                    SimdScorer.transpose(tiles.data, tiles.base, dim, transposed, t * dim * TILE_ROWS);
                }
            }
        }
    }

    /** Per-thread work arrays of {@link #scanByTileMaxima} (up to 16 MiB each). */
    private static final Scratch TRANSPOSED = new Scratch(1 << 22);
    private static final Scratch TILE_MAXIMA = new Scratch(1 << 22);

    /**
     * The maxima over a full transposed tile (four vectors of rows) of two queries' scores, the queries at
     * {@code packed[p + 4c]} and {@code packed[p + 4c + 1]}: eight accumulators, the four row vectors loaded once per
     * dimension for both, and the maxima taken in registers (with four queries the accumulators fill the registers,
     * and the scores go through memory to a separate maximum). Sums in pass 2's order.
     */
    private static void twoTileMaxima(float[] packed, int p, int dim, float[] t, int tOffset, float[] tileMax, int at0, int at1) {
        int lanes = SPECIES.length();
        FloatVector a0 = FloatVector.zero(SPECIES);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        for (int c = 0, k = tOffset; c < dim; c++, k += TILE_ROWS, p += 4) {
            FloatVector k0 = FloatVector.fromArray(SPECIES, t, k);
            FloatVector k1 = FloatVector.fromArray(SPECIES, t, k + lanes);
            FloatVector k2 = FloatVector.fromArray(SPECIES, t, k + 2 * lanes);
            FloatVector k3 = FloatVector.fromArray(SPECIES, t, k + 3 * lanes);
            FloatVector x = FloatVector.broadcast(SPECIES, packed[p]);
            a0 = x.fma(k0, a0);
            a1 = x.fma(k1, a1);
            a2 = x.fma(k2, a2);
            a3 = x.fma(k3, a3);
            x = FloatVector.broadcast(SPECIES, packed[p + 1]);
            b0 = x.fma(k0, b0);
            b1 = x.fma(k1, b1);
            b2 = x.fma(k2, b2);
            b3 = x.fma(k3, b3);
        }
        tileMax[at0] = a0.max(a1).max(a2.max(a3)).reduceLanes(VectorOperators.MAX);
        tileMax[at1] = b0.max(b1).max(b2.max(b3)).reduceLanes(VectorOperators.MAX);
    }

    /** The maximum of a full tile's scores at {@code from}: lane-wise maxima, then one reduction. */
    private static float tileMaximum(float[] scores, int from) {
        int lanes = SPECIES.length();
        FloatVector max = FloatVector.fromArray(SPECIES, scores, from);
        for (int r = lanes; r < TILE_ROWS; r += lanes) {
            max = max.max(FloatVector.fromArray(SPECIES, scores, from + r));
        }
        return max.reduceLanes(VectorOperators.MAX);
    }

    /**
     * Keeps the rows of {@code scores[from, from + rows)} (rows {@code start...}) that reach {@code threshold}: a vector
     * compare, then only the set bits of its mask (a kept row is rare, and a branch per lane mispredicts on it).
     */
    private static void keep(float[] scores, int from, int rows, int start, float threshold, ReachingRows out) {
        int lanes = SPECIES.length();
        int r = 0;
        for (; r + lanes <= rows; r += lanes) {
            for (long bits = FloatVector.fromArray(SPECIES, scores, from + r).compare(VectorOperators.GE, threshold).toLong(); bits != 0;
                 bits &= bits - 1) {
                int lane = Long.numberOfTrailingZeros(bits);
                out.add(scores[from + r + lane], start + r + lane);
            }
        }
        for (; r < rows; r++) {
            if (scores[from + r] >= threshold) {
                out.add(scores[from + r], start + r);
            }
        }
    }

    /**
     * {@code out[r]} = a . row r and {@code out[TILE_ROWS + r]} = b . row r of a transposed full tile: pass 2's sums, in
     * pass 1's order (one multiply-add per dimension and row, dimensions in order), eight chains side by side.
     */
    private static void dotTwoQueriesDimMajor(float[] a, float[] b, float[] t, int offset, int dim, float[] out) {
        int lanes = SPECIES.length();
        if (4 * lanes > TILE_ROWS) {
            dotTwoQueriesDimMajorWide(a, b, t, offset, dim, out);
            return;
        }
        for (int r0 = 0; r0 < TILE_ROWS; r0 += 4 * lanes) {
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            FloatVector b2 = a0;
            FloatVector b3 = a0;
            for (int c = 0; c < dim; c++) {
                int row = offset + c * TILE_ROWS + r0;
                FloatVector k0 = FloatVector.fromArray(SPECIES, t, row);
                FloatVector k1 = FloatVector.fromArray(SPECIES, t, row + lanes);
                FloatVector k2 = FloatVector.fromArray(SPECIES, t, row + 2 * lanes);
                FloatVector k3 = FloatVector.fromArray(SPECIES, t, row + 3 * lanes);
                FloatVector x = FloatVector.broadcast(SPECIES, a[c]);
                a0 = x.fma(k0, a0);
                a1 = x.fma(k1, a1);
                a2 = x.fma(k2, a2);
                a3 = x.fma(k3, a3);
                x = FloatVector.broadcast(SPECIES, b[c]);
                b0 = x.fma(k0, b0);
                b1 = x.fma(k1, b1);
                b2 = x.fma(k2, b2);
                b3 = x.fma(k3, b3);
            }
            a0.intoArray(out, r0);
            a1.intoArray(out, r0 + lanes);
            a2.intoArray(out, r0 + 2 * lanes);
            a3.intoArray(out, r0 + 3 * lanes);
            b0.intoArray(out, TILE_ROWS + r0);
            b1.intoArray(out, TILE_ROWS + r0 + lanes);
            b2.intoArray(out, TILE_ROWS + r0 + 2 * lanes);
            b3.intoArray(out, TILE_ROWS + r0 + 3 * lanes);
        }
    }

    /**
     * {@link #dotTwoQueriesDimMajor} where a tile is two vectors of rows (512-bit vectors: 16 lanes of the 32 rows),
     * four chains side by side, the sums in the same order.
     */
    private static void dotTwoQueriesDimMajorWide(float[] a, float[] b, float[] t, int offset, int dim, float[] out) {
        int lanes = SPECIES.length();
        for (int r0 = 0; r0 < TILE_ROWS; r0 += 2 * lanes) {
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            for (int c = 0; c < dim; c++) {
                int row = offset + c * TILE_ROWS + r0;
                FloatVector k0 = FloatVector.fromArray(SPECIES, t, row);
                FloatVector k1 = FloatVector.fromArray(SPECIES, t, row + lanes);
                FloatVector x = FloatVector.broadcast(SPECIES, a[c]);
                a0 = x.fma(k0, a0);
                a1 = x.fma(k1, a1);
                x = FloatVector.broadcast(SPECIES, b[c]);
                b0 = x.fma(k0, b0);
                b1 = x.fma(k1, b1);
            }
            a0.intoArray(out, r0);
            a1.intoArray(out, r0 + lanes);
            b0.intoArray(out, TILE_ROWS + r0);
            b1.intoArray(out, TILE_ROWS + r0 + lanes);
        }
    }

    /**
     * The k-th largest of {@code a[from, from + n)} (1 <= k <= n), leaving {@code a} as it is. The values fall into g
     * >= k groups (a lane of the vectors of one block of them, and each value after the last whole vector alone),
     * and the k-th largest group maximum bounds the answer from below (k values reach it); the group maxima are lane-wise
     * vector maxima, with no dependent chain of scalar maxima. Only the values that reach the bound (a few k of n) are
     * copied into {@code scratch} and selected from.
     */
    static float kthLargest(float[] a, int from, int n, int k, float[] scratch) {
        int lanes = SPECIES.length();
        int vectors = n / lanes;
        int blocks = (k + lanes - 1) / lanes;
        if (vectors < blocks) {
            System.arraycopy(a, from, scratch, 0, n);
            return kthLargest(scratch, n, k);
        }
        float[] groupMax = new float[blocks * lanes + n - vectors * lanes];
        for (int b = 0; b < blocks; b++) {
            FloatVector max = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
            for (int v = vectors * b / blocks, end = vectors * (b + 1) / blocks; v < end; v++) {
                max = max.max(FloatVector.fromArray(SPECIES, a, from + v * lanes));
            }
            max.intoArray(groupMax, b * lanes);
        }
        System.arraycopy(a, from + vectors * lanes, groupMax, blocks * lanes, n - vectors * lanes);
        float bound = kthLargest(groupMax, groupMax.length, k);
        FloatVector boundVector = FloatVector.broadcast(SPECIES, bound);
        int count = 0;
        for (int v = 0; v < vectors; v++) {
            int at = from + v * lanes;
            if (FloatVector.fromArray(SPECIES, a, at).compare(VectorOperators.GE, boundVector).anyTrue()) {
                for (int x = at; x < at + lanes; x++) {
                    scratch[count] = a[x];
                    count += a[x] >= bound ? 1 : 0;
                }
            }
        }
        for (int x = from + vectors * lanes; x < from + n; x++) {
            scratch[count] = a[x];
            count += a[x] >= bound ? 1 : 0;
        }
        return kthLargest(scratch, count, k);
    }

    /** The k-th largest of {@code a[0, n)} (1 <= k <= n), by quickselect; reorders {@code a}. */
    static float kthLargest(float[] a, int n, int k) {
        int target = n - k; // ascending position of the k-th largest
        int lo = 0;
        int hi = n - 1;
        while (lo < hi) {
            float pivot = a[(lo + hi) >>> 1];
            int i = lo;
            int j = hi;
            while (i <= j) {
                while (a[i] < pivot) {
                    i++;
                }
                while (a[j] > pivot) {
                    j--;
                }
                if (i <= j) {
                    float x = a[i];
                    a[i] = a[j];
                    a[j] = x;
                    i++;
                    j--;
                }
            }
            if (target <= j) {
                hi = j;
            } else if (target >= i) {
                lo = i;
            } else {
                break;
            }
        }
        return a[target];
    }

    /**
     * Walks a store a tile of rows at a time: float32 pages are read in place, float16 rows are
     * widened into a buffer once per tile (then every query of the batch reuses them).
     */
    private static final class Tiles {
        private final VectorStore keys;
        private final float[] widened;
        float[] data;
        int base;

        Tiles(VectorStore keys) {
            this.keys = keys;
            this.widened = keys.precision() == Precision.FLOAT16 ? new float[TILE_ROWS * keys.dim()] : null;
        }

        /** Points {@link #data}/{@link #base} at the tile starting at {@code start}; returns its end. */
        int load(int start, int to) {
            int pageRows = keys.pageRows();
            int page = start / pageRows;
            int pageStart = page * pageRows;
            int end = Math.min(Math.min(to, pageStart + pageRows), start + TILE_ROWS);
            int offset = (start - pageStart) * keys.dim();
            if (widened == null) {
                data = keys.float32Page(page);
                base = offset;
            } else {
                widen(keys.float16Page(page), offset, widened, (end - start) * keys.dim());
                data = widened;
                base = 0;
            }
            return end;
        }
    }

    static void widen(short[] src, int from, float[] dst, int count) {
        for (int i = 0; i < count; i++) {
            dst[i] = Float.float16ToFloat(src[from + i]);
        }
    }

    /**
     * out[r] = q . data[base + r*dim ...] for r < rows. Two rows at a time share the query loads, and
     * each row keeps four accumulators: eight independent multiply-add chains hide the FMA latency
     * (measured about 25% faster than four rows with one chain each, which is latency-bound).
     */
    static void dotRows(float[] q, float[] data, int base, int dim, int rows, float[] out) {
        dotRows(q, data, base, dim, rows, out, 0);
    }

    /** The same, writing {@code out[outOffset + r]}. */
    static void dotRows(float[] q, float[] data, int base, int dim, int rows, float[] out, int outOffset) {
        int r = 0;
        for (; r + 2 <= rows; r += 2) {
            dot2(q, data, base + r * dim, dim, out, outOffset + r);
        }
        if (r < rows) {
            out[outOffset + r] = dot(q, data, base + r * dim, dim);
        }
    }

    /** out[at] = q . row at {@code o0}; out[at + 1] = q . the row after it. */
    private static void dot2(float[] q, float[] data, int o0, int dim, float[] out, int at) {
        int lanes = SPECIES.length();
        int o1 = o0 + dim;
        FloatVector a0 = FloatVector.zero(SPECIES);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        int c = 0;
        for (; c + 4 * lanes <= dim; c += 4 * lanes) {
            FloatVector q0 = FloatVector.fromArray(SPECIES, q, c);
            FloatVector q1 = FloatVector.fromArray(SPECIES, q, c + lanes);
            FloatVector q2 = FloatVector.fromArray(SPECIES, q, c + 2 * lanes);
            FloatVector q3 = FloatVector.fromArray(SPECIES, q, c + 3 * lanes);
            a0 = q0.fma(FloatVector.fromArray(SPECIES, data, o0 + c), a0);
            a1 = q1.fma(FloatVector.fromArray(SPECIES, data, o0 + c + lanes), a1);
            a2 = q2.fma(FloatVector.fromArray(SPECIES, data, o0 + c + 2 * lanes), a2);
            a3 = q3.fma(FloatVector.fromArray(SPECIES, data, o0 + c + 3 * lanes), a3);
            b0 = q0.fma(FloatVector.fromArray(SPECIES, data, o1 + c), b0);
            b1 = q1.fma(FloatVector.fromArray(SPECIES, data, o1 + c + lanes), b1);
            b2 = q2.fma(FloatVector.fromArray(SPECIES, data, o1 + c + 2 * lanes), b2);
            b3 = q3.fma(FloatVector.fromArray(SPECIES, data, o1 + c + 3 * lanes), b3);
        }
        for (; c + lanes <= dim; c += lanes) {
            FloatVector qv = FloatVector.fromArray(SPECIES, q, c);
            a0 = qv.fma(FloatVector.fromArray(SPECIES, data, o0 + c), a0);
            b0 = qv.fma(FloatVector.fromArray(SPECIES, data, o1 + c), b0);
        }
        float s0 = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        float s1 = b0.add(b1).add(b2.add(b3)).reduceLanes(VectorOperators.ADD);
        for (; c < dim; c++) {
            s0 += q[c] * data[o0 + c];
            s1 += q[c] * data[o1 + c];
        }
        out[at] = s0;
        out[at + 1] = s1;
    }

    /**
     * Short keys and many queries (a recommender's candidates against one history): a tile is transposed once,
     * dimension-major, and each query's scores of its rows come from broadcast multiply-adds, one row per lane,
     * with no horizontal sum per row (which costs as much as the multiply-adds of a 32-float row).
     */
    static final int DIM_MAJOR_MAX_DIM = 128;
    static final int DIM_MAJOR_MIN_QUERIES = 8;
    /** Queries per task of a call that splits its queries (a multiple of four: {@link VectorMath#fourRowsTimes}). */
    static final int QUERY_CHUNK = 64;

    private static boolean dimMajor(float[][] queries, VectorStore keys) {
        return queries.length >= DIM_MAJOR_MIN_QUERIES && keys.dim() <= DIM_MAJOR_MAX_DIM;
    }

    /** {@code out[c * TILE_ROWS + r] = data[base + r * dim + c]} for a full tile. */
    private static void transpose(float[] data, int base, int dim, float[] out, int outOffset) {
        for (int r = 0; r < TILE_ROWS; r++) {
            int row = base + r * dim;
            for (int c = 0; c < dim; c++) {
                out[outOffset + c * TILE_ROWS + r] = data[row + c];
            }
        }
    }

    /** {@code out[r] = q . row r} of a transposed full tile. */
    private static void dotRowsDimMajor(float[] q, float[] t, int offset, int dim, float[] out) {
        int lanes = SPECIES.length();
        for (int r0 = 0; r0 < TILE_ROWS; r0 += 2 * lanes) {
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = a0;
            for (int c = 0; c < dim; c++) {
                FloatVector qc = FloatVector.broadcast(SPECIES, q[c]);
                a0 = qc.fma(FloatVector.fromArray(SPECIES, t, offset + c * TILE_ROWS + r0), a0);
                a1 = qc.fma(FloatVector.fromArray(SPECIES, t, offset + c * TILE_ROWS + r0 + lanes), a1);
            }
            a0.intoArray(out, r0);
            a1.intoArray(out, r0 + lanes);
        }
    }

    /** q . data[offset, offset + dim). */
    static float dot(float[] q, float[] data, int offset, int dim) {
        return VectorMath.dot(q, 0, data, offset, dim);
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
        // Three passes over the subset: logits (runs of consecutive float32 rows two at a time, read in
        // place), weights by a vectorised exp, then the weighted sum of the values four rows at a time (a
        // quarter of the loads and stores of the output): no per-key copy or scalar exp.
        float[] logits = new float[count];
        int kdim = keys.dim();
        int keyRows = keys.pageRows();
        float[] row = keys.precision() == Precision.FLOAT32 ? null : new float[kdim];
        for (int i = 0; i < count; ) {
            int id = subset == null ? i : subset[i];
            int page = id / keyRows;
            int at = (id - page * keyRows) * kdim;
            if (row == null) {
                int run = 1;
                int pageEnd = (page + 1) * keyRows;
                while (i + run < count && id + run < pageEnd && (subset == null || subset[i + run] == id + run)) {
                    run++;
                }
                dotRows(query, keys.float32Page(page), at, kdim, run, logits, i);
                i += run;
            } else {
                widen(keys.float16Page(page), at, row, kdim);
                logits[i++] = VectorMath.dot(query, 0, row, 0, kdim);
            }
        }
        float max = Float.NEGATIVE_INFINITY;
        float min = Float.POSITIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
            min = Math.min(min, l);
        }
        float scaledMax = scale >= 0 ? scale * max : scale * min; // the largest scaled logit
        double sum = expInPlace(logits, scale, scaledMax);
        int vdim = values.dim();
        accumulate(values, subset, logits, count, out);
        float inv = (float) (1.0 / sum);
        for (int c = 0; c < vdim; c++) {
            out[c] *= inv;
        }
        return new AttentionOutput(out, scaledMax + Math.log(sum), device);
    }

    /** {@code out += sum_i w[i] * values.row(id_i)}, four rows per pass over {@code out}. */
    private static void accumulate(VectorStore values, int[] subset, float[] w, int count, float[] out) {
        int vdim = values.dim();
        int pageRows = values.pageRows();
        boolean f32 = values.precision() == Precision.FLOAT32;
        float[][] rows = new float[4][];
        int[] offsets = new int[4];
        float[][] widened = f32 ? null : new float[4][vdim];
        int i = 0;
        for (; i + 4 <= count; i += 4) {
            for (int j = 0; j < 4; j++) {
                int id = subset == null ? i + j : subset[i + j];
                int page = id / pageRows;
                int at = (id - page * pageRows) * vdim;
                if (f32) {
                    rows[j] = values.float32Page(page);
                    offsets[j] = at;
                } else {
                    widen(values.float16Page(page), at, widened[j], vdim);
                    rows[j] = widened[j];
                    offsets[j] = 0;
                }
            }
            axpy4(w[i], rows[0], offsets[0], w[i + 1], rows[1], offsets[1], w[i + 2], rows[2], offsets[2],
                    w[i + 3], rows[3], offsets[3], out, vdim);
        }
        float[] one = f32 ? null : new float[vdim];
        for (; i < count; i++) {
            int id = subset == null ? i : subset[i];
            int page = id / pageRows;
            int at = (id - page * pageRows) * vdim;
            if (f32) {
                axpy(w[i], values.float32Page(page), at, out, vdim);
            } else {
                widen(values.float16Page(page), at, one, vdim);
                axpy(w[i], one, 0, out, vdim);
            }
        }
    }

    private static void axpy4(float w0, float[] r0, int o0, float w1, float[] r1, int o1, float w2, float[] r2, int o2,
                              float w3, float[] r3, int o3, float[] out, int dim) {
        FloatVector v0 = FloatVector.broadcast(SPECIES, w0);
        FloatVector v1 = FloatVector.broadcast(SPECIES, w1);
        FloatVector v2 = FloatVector.broadcast(SPECIES, w2);
        FloatVector v3 = FloatVector.broadcast(SPECIES, w3);
        int bound = SPECIES.loopBound(dim);
        int c = 0;
        for (; c < bound; c += SPECIES.length()) {
            FloatVector a = FloatVector.fromArray(SPECIES, r0, o0 + c).fma(v0, FloatVector.fromArray(SPECIES, out, c));
            FloatVector b = FloatVector.fromArray(SPECIES, r1, o1 + c).mul(v1);
            a = FloatVector.fromArray(SPECIES, r2, o2 + c).fma(v2, a);
            b = FloatVector.fromArray(SPECIES, r3, o3 + c).fma(v3, b);
            a.add(b).intoArray(out, c);
        }
        for (; c < dim; c++) {
            out[c] += w0 * r0[o0 + c] + w1 * r1[o1 + c] + w2 * r2[o2 + c] + w3 * r3[o3 + c];
        }
    }

    /** {@code x[i] = exp(scale * x[i] - max)} for every i, returning the sum (in double, per block of floats). */
    static double expInPlace(float[] x, float scale, float max) {
        FloatVector m = FloatVector.broadcast(SPECIES, max);
        FloatVector sc = FloatVector.broadcast(SPECIES, scale);
        int lanes = SPECIES.length();
        int bound = SPECIES.loopBound(x.length);
        double sum = 0;
        int i = 0;
        while (i < bound) {
            FloatVector acc = FloatVector.zero(SPECIES);
            int blockEnd = Math.min(bound, i + 256 * lanes); // float sums of at most 256 terms per lane
            for (; i < blockEnd; i += lanes) {
                FloatVector e = FloatVector.fromArray(SPECIES, x, i).fma(sc, m.neg()).lanewise(VectorOperators.EXP);
                e.intoArray(x, i);
                acc = acc.add(e);
            }
            sum += acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < x.length; i++) {
            x[i] = (float) Math.exp(scale * x[i] - max);
            sum += x[i];
        }
        return sum;
    }

    /** {@code out[c] += w * data[offset + c]} for c in [0, dim). */
    static void axpy(float w, float[] data, int offset, float[] out, int dim) {
        FloatVector wv = FloatVector.broadcast(SPECIES, w);
        int bound = SPECIES.loopBound(dim);
        int c = 0;
        for (; c < bound; c += SPECIES.length()) {
            FloatVector.fromArray(SPECIES, data, offset + c).fma(wv, FloatVector.fromArray(SPECIES, out, c)).intoArray(out, c);
        }
        for (; c < dim; c++) {
            out[c] += w * data[offset + c];
        }
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
