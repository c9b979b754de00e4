package dev.attend.gpu;

import static dev.attend.gpu.internals.BuildTopKKernel.DEPTH;
import static dev.attend.gpu.internals.BuildTopKKernel.SIDE;
import static dev.attend.gpu.internals.BuildTopKKernel.TILE;

import com.aparapi.Range;
import com.aparapi.device.OpenCLDevice;
import dev.attend.gpu.internals.BuildTopKKernel;
import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * One {@link BuildTopKKernel} (one OpenCL context, its program built once) and the rows of one store it holds on the
 * device: rows {@code [from, to)} in the kernel's tile layout, kept while later calls ask for rows inside them. The
 * store is held weakly: once it is unreachable the slot is free for another range. Used by one thread at a time
 * ({@link BuildSlots} hands it out).
 */
final class BuildSlot implements AutoCloseable {

    private final OpenCLDevice device;
    private final BuildTopKKernel kernel = new BuildTopKKernel();
    private WeakReference<VectorStore> store = new WeakReference<>(null);
    private int from;
    private int to;
    private int dimPad;
    /** Key tiles the key buffer has room for. */
    private int tileCapacity;
    /** Query tiles of the current batch, and the grid of its launches. */
    private int queryTiles;
    private Range range;
    /** For the pool (under its lock): whether a caller holds it, when it was last given back, whether to dispose it then. */
    boolean busy;
    long lastUse;
    boolean retired;

    BuildSlot(OpenCLDevice device) {
        this.device = device;
        kernel.setExplicit(true);
    }

    /** Whether rows [from, to) of {@code keys} are resident here. */
    synchronized boolean covers(VectorStore keys, int from, int to) {
        return store.get() == keys && this.from <= from && to <= this.to;
    }

    /** Whether this slot holds rows of {@code keys}. */
    synchronized boolean holds(VectorStore keys) {
        VectorStore s = store.get();
        return s != null && s == keys;
    }

    /** Whether the store whose rows are here is gone (or none was ever loaded). */
    synchronized boolean vacant() {
        return store.get() == null;
    }

    /** Store row of resident row 0. */
    synchronized int from() {
        return from;
    }

    /**
     * Makes rows [from, to) of {@code keys} resident unless they are; returns whether rows were sent. Rows appended
     * to a range already held from the same first row are copied alone (rows of a store never change); otherwise
     * {@code laidOut} ({@link #layOut(VectorStore, int, int, int)} of the same rows, made before the slot was taken)
     * is sent, or the rows are laid out here when it is null.
     */
    boolean hold(VectorStore keys, int from, int to, int maxTiles, float[] laidOut) {
        if (covers(keys, from, to)) {
            return false;
        }
        int pad = padded(keys.dim());
        int tiles = (to - from + TILE - 1) / TILE;
        boolean extend = holds(keys) && this.from == from && pad == dimPad && tiles <= tileCapacity;
        boolean packHere = extend || laidOut == null;
        if (!extend && laidOut != null) {
            kernel.keys = laidOut;
        } else if (!extend && (tiles > tileCapacity || pad != dimPad)) {
            kernel.keys = new float[Math.multiplyExact(capacityTiles(tiles, maxTiles), pad * TILE)];
        }
        tileCapacity = kernel.keys.length / (pad * TILE);
        dimPad = pad;
        int first = extend ? this.to : from;
        // The pool reads what is resident from other threads (under this monitor); the rows are laid out outside it.
        synchronized (this) {
            store = new WeakReference<>(null);
            this.from = from;
            this.to = from;
        }
        if (packHere) {
            pack(keys, from, first, to, kernel.keys, pad);
        }
        synchronized (this) {
            store = new WeakReference<>(keys);
            this.to = to;
        }
        kernel.put(kernel.keys);
        return true;
    }

    /** Components per row in the tile layout. */
    static int padded(int dim) {
        return (dim + DEPTH - 1) / DEPTH * DEPTH;
    }

    /** Key tiles a buffer for {@code tiles} holds: an eighth more, so that a session's next build covers the rows appended since. */
    private static int capacityTiles(int tiles, int maxTiles) {
        return (int) Math.max(tiles, Math.min(maxTiles, tiles + tiles / 8L));
    }

    /** Rows [from, to) of {@code keys} in the tile layout of a key buffer, with the room {@link #hold} gives it. */
    static float[] layOut(VectorStore keys, int from, int to, int maxTiles) {
        int pad = padded(keys.dim());
        int tiles = (to - from + TILE - 1) / TILE;
        float[] out = new float[Math.multiplyExact(capacityTiles(tiles, maxTiles), pad * TILE)];
        pack(keys, from, from, to, out, pad);
        return out;
    }

    /**
     * Writes rows [first, last) of a buffer whose row 0 is store row {@code base} into the tile layout, tile by tile
     * in parallel (10^5 rows are 10^7 values).
     */
    private static void pack(VectorStore keys, int base, int first, int last, float[] out, int pad) {
        int dim = keys.dim();
        IntStream.rangeClosed((first - base) / TILE, (last - 1 - base) / TILE).parallel().forEach(t -> {
            float[] row = new float[dim];
            int lo = Math.max(first, base + t * TILE);
            int hi = Math.min(last, base + (t + 1) * TILE);
            for (int id = lo; id < hi; id++) {
                keys.readRow(id, row);
                int at = t * pad * TILE + (id - base - t * TILE);
                for (int c = 0; c < dim; c++) {
                    out[at + c * TILE] = row[c];
                }
            }
        });
    }

    /**
     * Sizes the batch buffers for {@code batch} queries (a multiple of TILE), {@code groups} group maxima per query,
     * {@code capacity} candidates per query and {@code scores} stored scores (0: pass 2 recomputes them); buffers only
     * grow, so a build's calls reuse them.
     */
    void prepare(int batch, int groups, int capacity, long scores) {
        BuildTopKKernel k = kernel;
        if (k.scores.length < scores) {
            k.scores = new float[Math.toIntExact(scores)];
        }
        k.stored = scores > 0 ? 1 : 0;
        int queryFloats = Math.multiplyExact(batch, dimPad);
        if (k.queries.length < queryFloats) {
            k.queries = new float[queryFloats];
        }
        if (k.maxima.length < Math.multiplyExact(batch, groups)) {
            k.maxima = new float[batch * groups];
        }
        if (k.batchCapacity < batch || (long) k.candidates.length < (long) k.batchCapacity * (capacity + 1)) {
            int rows = Math.max(batch, k.batchCapacity);
            k.batchCapacity = rows;
            k.thresholds = new float[rows];
            k.refined = new float[rows];
            k.candidates = new int[Math.multiplyExact(rows, capacity + 1)];
            k.candidateScores = new float[rows * capacity];
        }
        k.capacity = capacity;
        k.dimPad = dimPad;
        k.rowBase = from;
    }

    /**
     * Queries in the kernel's tile layout (dimensions padded to {@code DEPTH}, the last tile padded with zero queries),
     * laid out in parallel before a slot is taken: tile t holds queries [t * TILE, (t + 1) * TILE).
     */
    static float[] layOut(float[][] queries, int dim) {
        int pad = padded(dim);
        int tiles = (queries.length + TILE - 1) / TILE;
        float[] out = new float[Math.multiplyExact(tiles, pad * TILE)];
        IntStream.range(0, tiles).parallel().forEach(t -> {
            for (int j = t * TILE, end = Math.min(queries.length, (t + 1) * TILE); j < end; j++) {
                float[] query = queries[j];
                int base = t * pad * TILE + j % TILE;
                for (int c = 0; c < query.length; c++) {
                    out[base + c * TILE] = query[c];
                }
            }
        });
        return out;
    }

    /** Sends queries [first, first + count) of {@link #layOut}'s {@code laidOut} as the batch ({@code first} a multiple of TILE). */
    void setQueries(float[] laidOut, int first, int count) {
        int tiles = (count + TILE - 1) / TILE;
        System.arraycopy(laidOut, first * dimPad, kernel.queries, 0, tiles * dimPad * TILE);
        kernel.m = count;
        kernel.put(kernel.queries);
        queryTiles = tiles;
    }

    /**
     * A copy of the last run's lists for batch queries [0, m), which are queries [first, first + m) of the call:
     * {@code counts[j]} (above {@code capacity}: overflowed), and query j's candidates at {@code j * capacity}.
     */
    record Lists(int first, int capacity, int[] counts, int[] ids, float[] scores) {
        /** Batch queries whose lists overflowed. */
        int[] overflowed() {
            return IntStream.range(0, counts.length).filter(j -> counts[j] > capacity).toArray();
        }
    }

    Lists lists(int first, int m) {
        BuildTopKKernel k = kernel;
        return new Lists(first, k.capacity, Arrays.copyOf(k.candidates, m),
                Arrays.copyOfRange(k.candidates, k.batchCapacity, k.batchCapacity + m * k.capacity),
                Arrays.copyOf(k.candidateScores, m * k.capacity));
    }

    /**
     * The three passes over resident rows [rowLo, rowHi) (relative to {@link #from()}) for the current batch, in one
     * launch: group maxima ({@code subgroups} groups per key tile), thresholds, candidate lists.
     */
    void score(int rowLo, int rowHi, int subgroups, int k, int slack) {
        BuildTopKKernel kk = kernel;
        int firstTile = rowLo / TILE;
        int tiles = (rowHi - 1) / TILE - firstTile + 1;
        kk.rowLo = rowLo;
        kk.rowHi = rowHi;
        kk.firstTile = firstTile;
        kk.subgroups = subgroups;
        kk.groups = tiles * subgroups;
        kk.k = k;
        kk.slack = slack;
        kk.refine = 0;
        kk.passOffset = BuildTopKKernel.PASS_MAXIMA;
        range = device.createRange2D(queryTiles * SIDE, tiles * SIDE, SIDE, SIDE);
        run(3);
    }

    /**
     * Collects again, for the queries whose {@code thresholds} entry is below {@link BuildTopKKernel#POS}, at those
     * thresholds (the others are left out); the group maxima of the last {@link #score} stay on the device.
     */
    void refine(float[] thresholds) {
        // The maxima must survive until this launch, which skips tiles by them; Aparapi re-creates the buffer of an
        // array the GC moved from its host copy, so the host copy is made current first.
        kernel.get(kernel.maxima);
        System.arraycopy(thresholds, 0, kernel.refined, 0, kernel.m);
        kernel.refine = 1;
        kernel.passOffset = BuildTopKKernel.PASS_THRESHOLD;
        // Recomputed: between launches Aparapi would send the host's copy of a moved score array over the device's.
        int stored = kernel.stored;
        kernel.stored = 0;
        kernel.put(kernel.refined);
        try {
            run(2);
        } finally {
            kernel.stored = stored;
        }
    }

    private void run(int passes) {
        kernel.execute(range, passes);
        if (!kernel.isRunningCL() || !(kernel.getTargetDevice() instanceof OpenCLDevice)) {
            throw new IllegalStateException("OpenCL kernel did not run on " + device.getShortDescription()
                    + " (Aparapi fell back to " + kernel.getTargetDevice() + ")");
        }
    }

    /** Brings the candidate lists of the last run back. */
    void fetch() {
        kernel.get(kernel.candidates);
        kernel.get(kernel.candidateScores);
    }

    /** Candidates of batch query j, uncapped: above {@link #capacity()} its list overflowed. */
    int count(int j) {
        return kernel.candidates[j];
    }

    int capacity() {
        return kernel.capacity;
    }

    /** Store row of query j's i-th candidate. */
    int candidate(int j, int i) {
        return kernel.candidates[kernel.batchCapacity + j * kernel.capacity + i];
    }

    float score(int j, int i) {
        return kernel.candidateScores[j * kernel.capacity + i];
    }

    /** Milliseconds the device reported for the last launch. */
    double kernelMs() {
        return kernel.getExecutionTime();
    }

    /** Bytes of the device buffers (and of their host mirrors). */
    long bytes() {
        BuildTopKKernel k = kernel;
        return 4L * ((long) k.keys.length + k.queries.length + k.maxima.length + k.thresholds.length + k.refined.length
                + k.candidates.length + k.candidateScores.length + k.scores.length);
    }

    @Override
    public void close() {
        kernel.dispose();
    }
}
