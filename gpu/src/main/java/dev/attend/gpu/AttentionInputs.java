package dev.attend.gpu;

/** The checks {@link Scorer#attend} makes on every backend. */
final class AttentionInputs {

    private AttentionInputs() {
    }

    static void check(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale) {
        VectorChecks.checkVector("query", query, keys.dim());
        if (values.size() < keys.size()) {
            throw new IllegalArgumentException("values hold " + values.size() + " rows but keys hold " + keys.size()
                    + ": every key needs its value");
        }
        if (!Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be finite, got " + scale);
        }
        VectorChecks.checkSubset(subset, keys.size());
    }
}
