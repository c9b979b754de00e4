package dev.attend.gpu.internals;

import com.aparapi.Kernel;

/**
 * OpenCL kernel (through Aparapi) for top-k scoring over one shard of resident keys, in two passes.
 *
 * <p>Layout: keys are stored in blocks of {@link #GROUP} rows, dimension-major inside a block
 * ({@code keys[(block * dim + c) * GROUP + lane]}), so that the work items of a group read
 * consecutive addresses for every component: each load of a warp is one coalesced transaction.
 * Up to {@link #BATCH} queries are scored per pass over the keys, with one register accumulator
 * each, so a key is read from memory once per batch.
 *
 * <p>Pass 0 writes every score and the maximum score of each group for each query. The host takes,
 * per query, the k-th largest group maximum over all shards: those k maxima are k distinct rows, so
 * at least k rows score at or above it, and the true top-k all do. Pass 1 appends the rows at or
 * above that threshold to a small candidate list (atomic counter per query), which is all that comes
 * back to the host: the scores never cross the bus.
 *
 * <p>Aparapi translates {@link #run()} from bytecode: no objects, strings, switches or exceptions in
 * here (any of them makes Aparapi fall back to Java instead of failing).
 */
public final class TopKScanKernel extends Kernel {

    /** Work-group size: the most the H200 allows, and a multiple of every warp/wavefront size. */
    public static final int GROUP = 256;
    /** Queries scored per pass. */
    public static final int BATCH = 16;
    /** Largest dimension supported (queries live in local memory: BATCH * MAX_DIM floats). */
    public static final int MAX_DIM = 256;
    private static final float NEG = -3.4028235e38f;

    /** Resident keys of this shard, in the blocked layout. */
    public final float[] keys;
    /** The query batch, component-major: {@code queries[c * BATCH + j]}. */
    public final float[] queries;
    /** Pass 0 output: {@code scores[j * capacity + row]}. */
    public final float[] scores;
    /** Pass 0 output: {@code groupMax[j * groups + g]}. */
    public final float[] groupMax;
    /** Pass 1 input: per-query threshold. */
    public final float[] thresholds;
    /** Pass 1 output: candidates per query (may exceed candidateCapacity: then the list overflowed). */
    public final int[] counts;
    public final int[] candidateIds;
    public final float[] candidateScores;

    public final int dim;
    public final int capacity;
    public final int groups;
    public final int candidateCapacity;
    /** Rows of this shard that hold keys (the rest is padding). */
    public int rows;
    /** Queries in the current batch (at most BATCH). */
    public int m;
    /** 0: score; 1: collect candidates. */
    public int pass;

    @Local
    final float[] qLocal = new float[BATCH * MAX_DIM];
    @Local
    final float[] red = new float[BATCH * GROUP];

    public TopKScanKernel(int dim, int capacity, int candidateCapacity) {
        if (capacity % GROUP != 0) {
            throw new IllegalArgumentException("capacity must be a multiple of " + GROUP);
        }
        if (dim > MAX_DIM) {
            throw new IllegalArgumentException("dimension " + dim + " exceeds " + MAX_DIM);
        }
        this.dim = dim;
        this.capacity = capacity;
        this.groups = capacity / GROUP;
        this.candidateCapacity = candidateCapacity;
        this.keys = new float[capacity * dim];
        this.queries = new float[BATCH * dim];
        this.scores = new float[BATCH * capacity];
        this.groupMax = new float[BATCH * groups];
        this.thresholds = new float[BATCH];
        this.counts = new int[BATCH];
        this.candidateIds = new int[BATCH * candidateCapacity];
        this.candidateScores = new float[BATCH * candidateCapacity];
    }

    @Override
    public void run() {
        if (pass == 0) {
            score();
        } else {
            collect();
        }
    }

    private void score() {
        int lid = getLocalId();
        int g = getGroupId();
        int row = getGlobalId();
        for (int i = lid; i < dim * BATCH; i += GROUP) {
            qLocal[i] = queries[i];
        }
        localBarrier();
        float a0 = 0f;
        float a1 = 0f;
        float a2 = 0f;
        float a3 = 0f;
        float a4 = 0f;
        float a5 = 0f;
        float a6 = 0f;
        float a7 = 0f;
        float a8 = 0f;
        float a9 = 0f;
        float a10 = 0f;
        float a11 = 0f;
        float a12 = 0f;
        float a13 = 0f;
        float a14 = 0f;
        float a15 = 0f;
        int base = g * dim * GROUP + lid;
        for (int c = 0; c < dim; c++) {
            float kv = keys[base + c * GROUP];
            int qb = c * BATCH;
            a0 += kv * qLocal[qb + 0];
            a1 += kv * qLocal[qb + 1];
            a2 += kv * qLocal[qb + 2];
            a3 += kv * qLocal[qb + 3];
            a4 += kv * qLocal[qb + 4];
            a5 += kv * qLocal[qb + 5];
            a6 += kv * qLocal[qb + 6];
            a7 += kv * qLocal[qb + 7];
            a8 += kv * qLocal[qb + 8];
            a9 += kv * qLocal[qb + 9];
            a10 += kv * qLocal[qb + 10];
            a11 += kv * qLocal[qb + 11];
            a12 += kv * qLocal[qb + 12];
            a13 += kv * qLocal[qb + 13];
            a14 += kv * qLocal[qb + 14];
            a15 += kv * qLocal[qb + 15];
        }
        int valid = 0;
        if (row < rows) {
            valid = 1;
        }
        keep(0, a0, row, lid, valid);
        keep(1, a1, row, lid, valid);
        keep(2, a2, row, lid, valid);
        keep(3, a3, row, lid, valid);
        keep(4, a4, row, lid, valid);
        keep(5, a5, row, lid, valid);
        keep(6, a6, row, lid, valid);
        keep(7, a7, row, lid, valid);
        keep(8, a8, row, lid, valid);
        keep(9, a9, row, lid, valid);
        keep(10, a10, row, lid, valid);
        keep(11, a11, row, lid, valid);
        keep(12, a12, row, lid, valid);
        keep(13, a13, row, lid, valid);
        keep(14, a14, row, lid, valid);
        keep(15, a15, row, lid, valid);
        localBarrier();
        for (int s = GROUP / 2; s > 0; s = s / 2) {
            if (lid < s) {
                for (int j = 0; j < BATCH; j++) {
                    red[j * GROUP + lid] = max(red[j * GROUP + lid], red[j * GROUP + lid + s]);
                }
            }
            localBarrier();
        }
        if (lid < m) {
            groupMax[lid * groups + g] = red[lid * GROUP];
        }
    }

    private void keep(int j, float a, int row, int lid, int valid) {
        float v = NEG;
        if (valid == 1 && j < m) {
            v = a;
            scores[j * capacity + row] = a;
        }
        red[j * GROUP + lid] = v;
    }

    private void collect() {
        int row = getGlobalId();
        if (row < rows) {
            for (int j = 0; j < m; j++) {
                float s = scores[j * capacity + row];
                if (s >= thresholds[j]) {
                    int at = atomicAdd(counts, j, 1);
                    if (at < candidateCapacity) {
                        candidateIds[j * candidateCapacity + at] = row;
                        candidateScores[j * candidateCapacity + at] = s;
                    }
                }
            }
        }
    }
}
