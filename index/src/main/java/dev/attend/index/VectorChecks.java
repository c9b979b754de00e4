package dev.attend.index;

import java.util.HashSet;

/** The argument checks every index makes, so that bad input fails the same way everywhere. */
public final class VectorChecks {

    private VectorChecks() {
    }

    /** An index's dimension. */
    public static void checkDimension(int dim) {
        if (dim < 1) {
            throw new IllegalArgumentException("dimension must be >= 1, got " + dim);
        }
    }

    public static void checkVector(String what, float[] v, int dim) {
        dev.attend.gpu.VectorChecks.checkVector(what, v, dim);
    }

    public static void checkSearch(float[] query, int dim, int k, int budget) {
        checkVector("query", query, dim);
        checkK(k);
        if (budget < 1) {
            throw new IllegalArgumentException("budget must be >= 1 distance computation, got " + budget);
        }
    }

    /** The number of results a search asks for. */
    public static void checkK(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
    }

    /** Checks a batch whole: lengths, dimensions, finiteness, and ids unique within the batch. */
    public static void checkBatch(long[] ids, float[][] vectors, int dim) {
        if (ids == null || vectors == null) {
            throw new IllegalArgumentException("ids and vectors must not be null");
        }
        if (ids.length != vectors.length) {
            throw new IllegalArgumentException(ids.length + " ids for " + vectors.length + " vectors");
        }
        HashSet<Long> seen = new HashSet<>();
        for (int i = 0; i < ids.length; i++) {
            checkVector("vector " + i + " (id " + ids[i] + ")", vectors[i], dim);
            if (!seen.add(ids[i])) {
                throw new IllegalArgumentException("id " + ids[i] + " appears twice in the batch");
            }
        }
    }
}
