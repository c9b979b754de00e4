package dev.attend.retrieval.policy;

import dev.attend.gpu.VectorStore;

/** Every key, exactly: the reference the other policies are measured against. */
final class FullHead extends PolicyHead {

    private final VectorStore keys;
    private final VectorStore values;

    FullHead(int dim, float scale, dev.attend.gpu.Scorer scorer) {
        super(dim, scale, scorer);
        this.keys = store(dim);
        this.values = store(dim);
    }

    @Override
    void prefill(float[][] k, float[][] v, float[][] queries) {
        for (int i = 0; i < k.length; i++) {
            add(k[i], v[i]);
        }
        tokens = k.length;
    }

    @Override
    void add(float[] key, float[] value) {
        values.append(value);
        keys.append(key);
    }

    @Override
    public PolicyAnswer attend(float[] query, int budget) {
        checkQuery(query, budget);
        return exact(query, keys, values, null);
    }

    @Override
    public long kvBytes() {
        return keys.bytes() + values.bytes();
    }

    @Override
    public long indexBytes() {
        return 0;
    }
}
