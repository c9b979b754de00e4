package dev.attend.retrieval.policy;

/** Every key, exactly: the reference the other policies are measured against. */
final class FullHead extends PolicyHead {

    FullHead(int dim, float scale, dev.attend.gpu.Scorer scorer) {
        super(dim, scale, scorer);
    }

    @Override
    void prefill(float[][] k, float[][] v, float[][] queries) {
        holdAll(k, v);
    }

    @Override
    void add(float[] key, float[] value) {
        hold(key, value);
    }

    @Override
    public PolicyAnswer attend(float[] query, int budget) {
        checkQuery(query, budget);
        return exact(query, null);
    }
}
