package dev.attend.gpu;

import static dev.attend.gpu.Tiles.TILE_ROWS;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link SimdScorer}'s top-k scan of many queries over short keys, in two passes over {@link DimMajorTiles} ({@link #scan}). */
final class TileMaximaScan {

    private static final VectorSpecies<Float> SPECIES = Simd.FLOATS;
    /** Per-thread work array of {@link #scan} (up to 16 MiB). */
    private static final Scratch TILE_MAXIMA = new Scratch(1 << 22);

    private TileMaximaScan() {
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
    static ReachingRows[] scan(float[][] queries, float[] packed, DimMajorTiles tiles, int q0, int q1, float[] bounds, int k) {
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
                        DimMajorTiles.twoTileMaxima(packed, block, dim, tiles.transposed, tOffset, tileMax, i * tileCount + t, (i + 1) * tileCount + t);
                        DimMajorTiles.twoTileMaxima(packed, block + 2, dim, tiles.transposed, tOffset, tileMax, (i + 2) * tileCount + t,
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
                    DimMajorTiles.dotRowsDimMajor(queries[q0 + i], tiles.transposed, tOffset, dim, scores);
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
                    DimMajorTiles.dotTwoQueriesDimMajor(queries[q0 + a], queries[q0 + b], tiles.transposed, tOffset, dim, scores);
                    keep(scores, 0, TILE_ROWS, start, thresholds[a], out[a]);
                    keep(scores, TILE_ROWS, TILE_ROWS, start, thresholds[b], out[b]);
                }
                if (x < end) {
                    int a = queriesOfTile[x];
                    DimMajorTiles.dotRowsDimMajor(queries[q0 + a], tiles.transposed, tOffset, dim, scores);
                    keep(scores, 0, TILE_ROWS, start, thresholds[a], out[a]);
                }
            } else if (x < end) {
                partial.load(start, tiles.start[t + 1]);
                for (; x < end; x++) {
                    int a = queriesOfTile[x];
                    VectorMath.dotRows(queries[q0 + a], partial.data, partial.base, dim, rows, scores, 0);
                    keep(scores, 0, rows, start, thresholds[a], out[a]);
                }
            }
        }
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
}
