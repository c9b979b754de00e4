package dev.attend.retrieval.policy;

/** Every key, exactly: the reference the other policies are measured against. */
final class FullHead extends PolicyHead {

    FullHead(float scale, dev.attend.gpu.Scorer scorer, dev.attend.gpu.VectorStore keys, dev.attend.gpu.VectorStore values) {
        super(scale, scorer, keys, values);
    }

    @Override
    void prefill(float[][][] queries) {
    }

    @Override
    void took() {
    }

    @Override
    public PolicyAnswer attend(float[] query, int budget) {
        checkQuery(query, budget);
        return exact(query, null);
    }
}
