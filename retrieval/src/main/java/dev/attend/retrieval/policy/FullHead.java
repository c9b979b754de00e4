package dev.attend.retrieval.policy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorStore;

/** Every key, exactly: the reference the other policies are measured against. */
final class FullHead extends PolicyHead {

    FullHead(float scale, Scorer scorer, VectorStore keys, VectorStore values) {
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
