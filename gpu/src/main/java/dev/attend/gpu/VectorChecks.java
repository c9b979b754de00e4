package dev.attend.gpu;

/** Argument checks shared by every scorer, so that bad input fails the same way on every backend. */
public final class VectorChecks {

    private VectorChecks() {
    }

    /** Throws when {@code vector} does not have {@code dim} components or holds NaN or infinity. */
    public static void checkVector(String what, float[] vector, int dim) {
        if (vector == null) {
            throw new IllegalArgumentException(what + " is null");
        }
        if (vector.length != dim) {
            throw new IllegalArgumentException(what + " has dimension " + vector.length + ", expected " + dim);
        }
        checkFinite(what, vector, 0, vector.length);
    }

    /** Throws when any of {@code values[from, to)} is NaN or infinite, naming the first bad position. */
    public static void checkFinite(String what, float[] values, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException(what + " holds " + values[i] + " at component " + (i - from)
                        + ": only finite values are accepted");
            }
        }
    }

    /** Checks every query against the keys' dimension. */
    public static void checkQueries(float[][] queries, int dim) {
        if (queries == null) {
            throw new IllegalArgumentException("queries is null");
        }
        for (int i = 0; i < queries.length; i++) {
            checkVector("query " + i, queries[i], dim);
        }
    }

    public static void checkK(int k) {
        if (k < 0) {
            throw new IllegalArgumentException("k must be >= 0, got " + k);
        }
    }

    /** Checks the arguments of a top-k over rows [from, to) of {@code keys}: the queries, k and the range. */
    public static void checkRangeTopK(float[][] queries, VectorStore keys, int from, int to, int k) {
        checkQueries(queries, keys.dim());
        checkK(k);
        checkRange(from, to, keys.size());
    }

    /** Checks a row range [from, to) against a store of {@code size} rows. */
    public static void checkRange(int from, int to, int size) {
        if (from < 0 || to < from || to > size) {
            throw new IllegalArgumentException("row range [" + from + ", " + to + ") is outside [0, " + size + ")");
        }
    }

    /** Checks that the subset names existing rows; null means every row. */
    public static void checkSubset(int[] subset, int size) {
        if (subset == null) {
            return;
        }
        for (int i = 0; i < subset.length; i++) {
            if (subset[i] < 0 || subset[i] >= size) {
                throw new IllegalArgumentException("subset[" + i + "] = " + subset[i] + " is not a row id in [0, " + size + ")");
            }
        }
    }
}
