package dev.attend.gpu;

import static dev.attend.gpu.Tiles.TILE_ROWS;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The rows [from, to) of a store in tiles of {@link Tiles#TILE_ROWS} rows (shorter at a page end and at {@code to}),
 * the full ones transposed dimension-major ({@code transposed[t * dim * TILE_ROWS + c * TILE_ROWS + r]}): built
 * once per call, then read by every task of it. The array is the building thread's scratch, valid until that
 * thread builds again (the tasks end before it returns). The static kernels score queries against a transposed
 * tile: one row per lane, with no horizontal sum per row (which costs as much as the multiply-adds of a 32-float row).
 */
final class DimMajorTiles {

    private static final VectorSpecies<Float> SPECIES = Simd.FLOATS;
    /** Per-thread work array of the transposed tiles (up to 16 MiB). */
    private static final Scratch TRANSPOSED = new Scratch(1 << 22);

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
                transpose(tiles.data, tiles.base, dim, transposed, t * dim * TILE_ROWS);
            }
        }
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
    static void dotRowsDimMajor(float[] q, float[] t, int offset, int dim, float[] out) {
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

    /**
     * The maxima over a full transposed tile (four vectors of rows) of two queries' scores, the queries at
     * {@code packed[p + 4c]} and {@code packed[p + 4c + 1]}: eight accumulators, the four row vectors loaded once per
     * dimension for both, and the maxima taken in registers (with four queries the accumulators fill the registers,
     * and the scores go through memory to a separate maximum). Sums in pass 2's order.
     */
    static void twoTileMaxima(float[] packed, int p, int dim, float[] t, int tOffset, float[] tileMax, int at0, int at1) {
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

    /**
     * {@code out[r]} = a . row r and {@code out[TILE_ROWS + r]} = b . row r of a transposed full tile: pass 2's sums, in
     * pass 1's order (one multiply-add per dimension and row, dimensions in order), eight chains side by side.
     */
    static void dotTwoQueriesDimMajor(float[] a, float[] b, float[] t, int offset, int dim, float[] out) {
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
}
