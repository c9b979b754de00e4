package dev.attend.gpu.internals;

import com.aparapi.Kernel;

/**
 * OpenCL kernel (through Aparapi) for top-k scoring over one shard of resident keys, in two passes.
 *
 * <p>Layout: keys are stored in blocks of {@link #GROUP} rows, dimension-major inside a block
 * ({@code keys[(block * dim + c) * GROUP + lane]}), so that the work items of a group read
 * consecutive addresses for every component: each load of a warp is one coalesced transaction.
 * A work item scores {@link #ROWS} rows against up to {@link #BATCH} queries with every
 * accumulator in a register, so a key is read from memory once per batch, each key load feeds
 * BATCH multiply-adds and each query load (from local memory) feeds ROWS.
 *
 * <p>Pass 0 writes every score and the maximum score of each work-group for each query. The host
 * takes, per query, the k-th largest group maximum over all shards: those k maxima are k distinct
 * rows, so at least k rows score at or above it and the true top-k all do. Only groups whose maximum
 * reaches some query's threshold can hold such rows; in pass 1 the other groups leave at once, and
 * these append their rows at or above the threshold to a candidate list per query (atomic counter).
 * Only that list comes back: the scores never cross the bus, and the host rescores the few candidates
 * from its own copy of the rows. Thresholds travel as kernel arguments and the counters in the
 * candidate array (zeroed by pass 0), so pass 1 costs one launch and one small read.
 *
 * <p>Aparapi translates {@link #run()} from bytecode: no objects, strings, switches or exceptions in
 * here (any of them makes Aparapi fall back to Java instead of failing). The unrolled accumulators
 * are written out because Aparapi keeps private arrays in memory, not registers.
 */
public final class TopKScanKernel extends Kernel {

    /** Work-group size: the most the H200 allows, and a multiple of every warp/wavefront size. */
    public static final int GROUP = 256;
    /** Queries scored per pass. */
    public static final int BATCH = 16;
    /** Rows per work item: a work-group covers ROWS * GROUP rows. */
    public static final int ROWS = 4;
    /** Rows covered by one work-group; shard capacities are multiples of it. */
    public static final int ROWS_PER_GROUP = ROWS * GROUP;
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
    /**
     * Pass 1 output: {@code candidates[j]} counts query j's candidates (more than candidateCapacity means
     * its list overflowed), and its rows follow at {@code candidates[BATCH + j * candidateCapacity + i]}.
     */
    public final int[] candidates;

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
    /** Pass 1 thresholds, one per query: kernel arguments, so setting them costs no buffer write. */
    public float t0;
    public float t1;
    public float t2;
    public float t3;
    public float t4;
    public float t5;
    public float t6;
    public float t7;
    public float t8;
    public float t9;
    public float t10;
    public float t11;
    public float t12;
    public float t13;
    public float t14;
    public float t15;

    /** The query batch during scoring, then the group maxima during the reduction (BATCH * MAX_DIM == BATCH * GROUP). */
    @Local
    final float[] scratch = new float[BATCH * MAX_DIM];

    public TopKScanKernel(int dim, int capacity, int candidateCapacity) {
        if (capacity % ROWS_PER_GROUP != 0) {
            throw new IllegalArgumentException("capacity must be a multiple of " + ROWS_PER_GROUP);
        }
        if (dim > MAX_DIM) {
            throw new IllegalArgumentException("dimension " + dim + " exceeds " + MAX_DIM);
        }
        this.dim = dim;
        this.capacity = capacity;
        this.groups = capacity / ROWS_PER_GROUP;
        this.candidateCapacity = candidateCapacity;
        this.keys = new float[capacity * dim];
        this.queries = new float[BATCH * dim];
        this.scores = new float[BATCH * capacity];
        this.groupMax = new float[BATCH * groups];
        this.candidates = new int[BATCH + BATCH * candidateCapacity];
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
        if (getGlobalId() < BATCH) {
            candidates[getGlobalId()] = 0;
        }
        for (int i = lid; i < dim * BATCH; i += GROUP) {
            scratch[i] = queries[i];
        }
        localBarrier();
        float a0_0 = 0f, a0_1 = 0f, a0_2 = 0f, a0_3 = 0f, a0_4 = 0f, a0_5 = 0f, a0_6 = 0f, a0_7 = 0f, a0_8 = 0f, a0_9 = 0f, a0_10 = 0f, a0_11 = 0f, a0_12 = 0f, a0_13 = 0f, a0_14 = 0f, a0_15 = 0f;
        float a1_0 = 0f, a1_1 = 0f, a1_2 = 0f, a1_3 = 0f, a1_4 = 0f, a1_5 = 0f, a1_6 = 0f, a1_7 = 0f, a1_8 = 0f, a1_9 = 0f, a1_10 = 0f, a1_11 = 0f, a1_12 = 0f, a1_13 = 0f, a1_14 = 0f, a1_15 = 0f;
        float a2_0 = 0f, a2_1 = 0f, a2_2 = 0f, a2_3 = 0f, a2_4 = 0f, a2_5 = 0f, a2_6 = 0f, a2_7 = 0f, a2_8 = 0f, a2_9 = 0f, a2_10 = 0f, a2_11 = 0f, a2_12 = 0f, a2_13 = 0f, a2_14 = 0f, a2_15 = 0f;
        float a3_0 = 0f, a3_1 = 0f, a3_2 = 0f, a3_3 = 0f, a3_4 = 0f, a3_5 = 0f, a3_6 = 0f, a3_7 = 0f, a3_8 = 0f, a3_9 = 0f, a3_10 = 0f, a3_11 = 0f, a3_12 = 0f, a3_13 = 0f, a3_14 = 0f, a3_15 = 0f;
        int b0 = (g * ROWS + 0) * dim * GROUP + lid;
        int b1 = (g * ROWS + 1) * dim * GROUP + lid;
        int b2 = (g * ROWS + 2) * dim * GROUP + lid;
        int b3 = (g * ROWS + 3) * dim * GROUP + lid;
        int c = 0;
        float q = 0f;
        for (; c + 1 < dim; c += 2) {
            // Two components per step: eight independent key loads in flight per work item.
            int off = c * GROUP;
            float k0a = keys[b0 + off];
            float k1a = keys[b1 + off];
            float k2a = keys[b2 + off];
            float k3a = keys[b3 + off];
            float k0b = keys[b0 + off + GROUP];
            float k1b = keys[b1 + off + GROUP];
            float k2b = keys[b2 + off + GROUP];
            float k3b = keys[b3 + off + GROUP];
            int qb = c * BATCH;
            q = scratch[qb + 0];
            a0_0 += k0a * q; a1_0 += k1a * q; a2_0 += k2a * q; a3_0 += k3a * q;
            q = scratch[qb + 1];
            a0_1 += k0a * q; a1_1 += k1a * q; a2_1 += k2a * q; a3_1 += k3a * q;
            q = scratch[qb + 2];
            a0_2 += k0a * q; a1_2 += k1a * q; a2_2 += k2a * q; a3_2 += k3a * q;
            q = scratch[qb + 3];
            a0_3 += k0a * q; a1_3 += k1a * q; a2_3 += k2a * q; a3_3 += k3a * q;
            q = scratch[qb + 4];
            a0_4 += k0a * q; a1_4 += k1a * q; a2_4 += k2a * q; a3_4 += k3a * q;
            q = scratch[qb + 5];
            a0_5 += k0a * q; a1_5 += k1a * q; a2_5 += k2a * q; a3_5 += k3a * q;
            q = scratch[qb + 6];
            a0_6 += k0a * q; a1_6 += k1a * q; a2_6 += k2a * q; a3_6 += k3a * q;
            q = scratch[qb + 7];
            a0_7 += k0a * q; a1_7 += k1a * q; a2_7 += k2a * q; a3_7 += k3a * q;
            q = scratch[qb + 8];
            a0_8 += k0a * q; a1_8 += k1a * q; a2_8 += k2a * q; a3_8 += k3a * q;
            q = scratch[qb + 9];
            a0_9 += k0a * q; a1_9 += k1a * q; a2_9 += k2a * q; a3_9 += k3a * q;
            q = scratch[qb + 10];
            a0_10 += k0a * q; a1_10 += k1a * q; a2_10 += k2a * q; a3_10 += k3a * q;
            q = scratch[qb + 11];
            a0_11 += k0a * q; a1_11 += k1a * q; a2_11 += k2a * q; a3_11 += k3a * q;
            q = scratch[qb + 12];
            a0_12 += k0a * q; a1_12 += k1a * q; a2_12 += k2a * q; a3_12 += k3a * q;
            q = scratch[qb + 13];
            a0_13 += k0a * q; a1_13 += k1a * q; a2_13 += k2a * q; a3_13 += k3a * q;
            q = scratch[qb + 14];
            a0_14 += k0a * q; a1_14 += k1a * q; a2_14 += k2a * q; a3_14 += k3a * q;
            q = scratch[qb + 15];
            a0_15 += k0a * q; a1_15 += k1a * q; a2_15 += k2a * q; a3_15 += k3a * q;
            q = scratch[qb + BATCH + 0];
            a0_0 += k0b * q; a1_0 += k1b * q; a2_0 += k2b * q; a3_0 += k3b * q;
            q = scratch[qb + BATCH + 1];
            a0_1 += k0b * q; a1_1 += k1b * q; a2_1 += k2b * q; a3_1 += k3b * q;
            q = scratch[qb + BATCH + 2];
            a0_2 += k0b * q; a1_2 += k1b * q; a2_2 += k2b * q; a3_2 += k3b * q;
            q = scratch[qb + BATCH + 3];
            a0_3 += k0b * q; a1_3 += k1b * q; a2_3 += k2b * q; a3_3 += k3b * q;
            q = scratch[qb + BATCH + 4];
            a0_4 += k0b * q; a1_4 += k1b * q; a2_4 += k2b * q; a3_4 += k3b * q;
            q = scratch[qb + BATCH + 5];
            a0_5 += k0b * q; a1_5 += k1b * q; a2_5 += k2b * q; a3_5 += k3b * q;
            q = scratch[qb + BATCH + 6];
            a0_6 += k0b * q; a1_6 += k1b * q; a2_6 += k2b * q; a3_6 += k3b * q;
            q = scratch[qb + BATCH + 7];
            a0_7 += k0b * q; a1_7 += k1b * q; a2_7 += k2b * q; a3_7 += k3b * q;
            q = scratch[qb + BATCH + 8];
            a0_8 += k0b * q; a1_8 += k1b * q; a2_8 += k2b * q; a3_8 += k3b * q;
            q = scratch[qb + BATCH + 9];
            a0_9 += k0b * q; a1_9 += k1b * q; a2_9 += k2b * q; a3_9 += k3b * q;
            q = scratch[qb + BATCH + 10];
            a0_10 += k0b * q; a1_10 += k1b * q; a2_10 += k2b * q; a3_10 += k3b * q;
            q = scratch[qb + BATCH + 11];
            a0_11 += k0b * q; a1_11 += k1b * q; a2_11 += k2b * q; a3_11 += k3b * q;
            q = scratch[qb + BATCH + 12];
            a0_12 += k0b * q; a1_12 += k1b * q; a2_12 += k2b * q; a3_12 += k3b * q;
            q = scratch[qb + BATCH + 13];
            a0_13 += k0b * q; a1_13 += k1b * q; a2_13 += k2b * q; a3_13 += k3b * q;
            q = scratch[qb + BATCH + 14];
            a0_14 += k0b * q; a1_14 += k1b * q; a2_14 += k2b * q; a3_14 += k3b * q;
            q = scratch[qb + BATCH + 15];
            a0_15 += k0b * q; a1_15 += k1b * q; a2_15 += k2b * q; a3_15 += k3b * q;
        }
        if (c < dim) {
            int off = c * GROUP;
            float k0a = keys[b0 + off];
            float k1a = keys[b1 + off];
            float k2a = keys[b2 + off];
            float k3a = keys[b3 + off];
            int qb = c * BATCH;
            q = scratch[qb + 0];
            a0_0 += k0a * q; a1_0 += k1a * q; a2_0 += k2a * q; a3_0 += k3a * q;
            q = scratch[qb + 1];
            a0_1 += k0a * q; a1_1 += k1a * q; a2_1 += k2a * q; a3_1 += k3a * q;
            q = scratch[qb + 2];
            a0_2 += k0a * q; a1_2 += k1a * q; a2_2 += k2a * q; a3_2 += k3a * q;
            q = scratch[qb + 3];
            a0_3 += k0a * q; a1_3 += k1a * q; a2_3 += k2a * q; a3_3 += k3a * q;
            q = scratch[qb + 4];
            a0_4 += k0a * q; a1_4 += k1a * q; a2_4 += k2a * q; a3_4 += k3a * q;
            q = scratch[qb + 5];
            a0_5 += k0a * q; a1_5 += k1a * q; a2_5 += k2a * q; a3_5 += k3a * q;
            q = scratch[qb + 6];
            a0_6 += k0a * q; a1_6 += k1a * q; a2_6 += k2a * q; a3_6 += k3a * q;
            q = scratch[qb + 7];
            a0_7 += k0a * q; a1_7 += k1a * q; a2_7 += k2a * q; a3_7 += k3a * q;
            q = scratch[qb + 8];
            a0_8 += k0a * q; a1_8 += k1a * q; a2_8 += k2a * q; a3_8 += k3a * q;
            q = scratch[qb + 9];
            a0_9 += k0a * q; a1_9 += k1a * q; a2_9 += k2a * q; a3_9 += k3a * q;
            q = scratch[qb + 10];
            a0_10 += k0a * q; a1_10 += k1a * q; a2_10 += k2a * q; a3_10 += k3a * q;
            q = scratch[qb + 11];
            a0_11 += k0a * q; a1_11 += k1a * q; a2_11 += k2a * q; a3_11 += k3a * q;
            q = scratch[qb + 12];
            a0_12 += k0a * q; a1_12 += k1a * q; a2_12 += k2a * q; a3_12 += k3a * q;
            q = scratch[qb + 13];
            a0_13 += k0a * q; a1_13 += k1a * q; a2_13 += k2a * q; a3_13 += k3a * q;
            q = scratch[qb + 14];
            a0_14 += k0a * q; a1_14 += k1a * q; a2_14 += k2a * q; a3_14 += k3a * q;
            q = scratch[qb + 15];
            a0_15 += k0a * q; a1_15 += k1a * q; a2_15 += k2a * q; a3_15 += k3a * q;
        }
        int row0 = (g * ROWS + 0) * GROUP + lid;
        int row1 = (g * ROWS + 1) * GROUP + lid;
        int row2 = (g * ROWS + 2) * GROUP + lid;
        int row3 = (g * ROWS + 3) * GROUP + lid;
        float m0 = max(max(keep(0, a0_0, row0), keep(0, a1_0, row1)), max(keep(0, a2_0, row2), keep(0, a3_0, row3)));
        float m1 = max(max(keep(1, a0_1, row0), keep(1, a1_1, row1)), max(keep(1, a2_1, row2), keep(1, a3_1, row3)));
        float m2 = max(max(keep(2, a0_2, row0), keep(2, a1_2, row1)), max(keep(2, a2_2, row2), keep(2, a3_2, row3)));
        float m3 = max(max(keep(3, a0_3, row0), keep(3, a1_3, row1)), max(keep(3, a2_3, row2), keep(3, a3_3, row3)));
        float m4 = max(max(keep(4, a0_4, row0), keep(4, a1_4, row1)), max(keep(4, a2_4, row2), keep(4, a3_4, row3)));
        float m5 = max(max(keep(5, a0_5, row0), keep(5, a1_5, row1)), max(keep(5, a2_5, row2), keep(5, a3_5, row3)));
        float m6 = max(max(keep(6, a0_6, row0), keep(6, a1_6, row1)), max(keep(6, a2_6, row2), keep(6, a3_6, row3)));
        float m7 = max(max(keep(7, a0_7, row0), keep(7, a1_7, row1)), max(keep(7, a2_7, row2), keep(7, a3_7, row3)));
        float m8 = max(max(keep(8, a0_8, row0), keep(8, a1_8, row1)), max(keep(8, a2_8, row2), keep(8, a3_8, row3)));
        float m9 = max(max(keep(9, a0_9, row0), keep(9, a1_9, row1)), max(keep(9, a2_9, row2), keep(9, a3_9, row3)));
        float m10 = max(max(keep(10, a0_10, row0), keep(10, a1_10, row1)), max(keep(10, a2_10, row2), keep(10, a3_10, row3)));
        float m11 = max(max(keep(11, a0_11, row0), keep(11, a1_11, row1)), max(keep(11, a2_11, row2), keep(11, a3_11, row3)));
        float m12 = max(max(keep(12, a0_12, row0), keep(12, a1_12, row1)), max(keep(12, a2_12, row2), keep(12, a3_12, row3)));
        float m13 = max(max(keep(13, a0_13, row0), keep(13, a1_13, row1)), max(keep(13, a2_13, row2), keep(13, a3_13, row3)));
        float m14 = max(max(keep(14, a0_14, row0), keep(14, a1_14, row1)), max(keep(14, a2_14, row2), keep(14, a3_14, row3)));
        float m15 = max(max(keep(15, a0_15, row0), keep(15, a1_15, row1)), max(keep(15, a2_15, row2), keep(15, a3_15, row3)));
        // Every work item is done reading the queries before the buffer holds group maxima.
        localBarrier();
        scratch[0 * GROUP + lid] = m0;
        scratch[1 * GROUP + lid] = m1;
        scratch[2 * GROUP + lid] = m2;
        scratch[3 * GROUP + lid] = m3;
        scratch[4 * GROUP + lid] = m4;
        scratch[5 * GROUP + lid] = m5;
        scratch[6 * GROUP + lid] = m6;
        scratch[7 * GROUP + lid] = m7;
        scratch[8 * GROUP + lid] = m8;
        scratch[9 * GROUP + lid] = m9;
        scratch[10 * GROUP + lid] = m10;
        scratch[11 * GROUP + lid] = m11;
        scratch[12 * GROUP + lid] = m12;
        scratch[13 * GROUP + lid] = m13;
        scratch[14 * GROUP + lid] = m14;
        scratch[15 * GROUP + lid] = m15;
        localBarrier();
        for (int s = GROUP / 2; s > 0; s = s / 2) {
            if (lid < s) {
                for (int j = 0; j < m; j++) {
                    scratch[j * GROUP + lid] = max(scratch[j * GROUP + lid], scratch[j * GROUP + lid + s]);
                }
            }
            localBarrier();
        }
        if (lid < m) {
            groupMax[lid * groups + g] = scratch[lid * GROUP];
        }
    }

    /** Writes query j's score of {@code row} and returns it, or returns the lowest float for padding rows. */
    private float keep(int j, float a, int row) {
        float v = NEG;
        if (row < rows && j < m) {
            v = a;
            scores[j * capacity + row] = a;
        }
        return v;
    }

    private float threshold(int j) {
        float t = t15;
        if (j == 0) {
            t = t0;
        }
        if (j == 1) {
            t = t1;
        }
        if (j == 2) {
            t = t2;
        }
        if (j == 3) {
            t = t3;
        }
        if (j == 4) {
            t = t4;
        }
        if (j == 5) {
            t = t5;
        }
        if (j == 6) {
            t = t6;
        }
        if (j == 7) {
            t = t7;
        }
        if (j == 8) {
            t = t8;
        }
        if (j == 9) {
            t = t9;
        }
        if (j == 10) {
            t = t10;
        }
        if (j == 11) {
            t = t11;
        }
        if (j == 12) {
            t = t12;
        }
        if (j == 13) {
            t = t13;
        }
        if (j == 14) {
            t = t14;
        }
        return t;
    }

    private void collect() {
        int g = getGroupId();
        // Most groups hold no candidate: they leave after reading BATCH maxima.
        int reaches = 0;
        for (int j = 0; j < m; j++) {
            if (groupMax[j * groups + g] >= threshold(j)) {
                reaches = 1;
            }
        }
        if (reaches == 1) {
            for (int r = 0; r < ROWS; r++) {
                int row = (g * ROWS + r) * GROUP + getLocalId();
                if (row < rows) {
                    // Read every score first, then take the rare atomics: loads stay independent.
                    int hits = 0;
                    for (int j = 0; j < m; j++) {
                        if (scores[j * capacity + row] >= threshold(j)) {
                            hits = hits | (1 << j);
                        }
                    }
                    if (hits != 0) {
                        for (int j = 0; j < m; j++) {
                            if ((hits & (1 << j)) != 0) {
                                int at = atomicAdd(candidates, j, 1);
                                if (at < candidateCapacity) {
                                    candidates[BATCH + j * candidateCapacity + at] = row;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
