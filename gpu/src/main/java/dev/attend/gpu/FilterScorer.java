package dev.attend.gpu;

import java.util.Objects;

/**
 * A scorer that hands every call to another (as Lucene's {@code Filter*} classes do): a subclass overrides what it
 * watches or changes, e.g. a harness that times the range top-k calls of index builds. Closing it closes the other.
 */
public abstract class FilterScorer implements Scorer {

    protected final Scorer in;

    protected FilterScorer(Scorer in) {
        this.in = Objects.requireNonNull(in, "in");
    }

    @Override
    public Device device() {
        return in.device();
    }

    @Override
    public ScoreMatrix scores(float[][] queries, VectorStore keys, int from, int to) {
        return in.scores(queries, keys, from, to);
    }

    @Override
    public TopKResult topK(float[][] queries, VectorStore keys, int k) {
        return in.topK(queries, keys, k);
    }

    @Override
    public TopKResult topK(float[][] queries, VectorStore keys, int from, int to, int k) {
        return in.topK(queries, keys, from, to, k);
    }

    @Override
    public void topK(float[][] queries, VectorStore keys, int k, ReadyRange ready) {
        in.topK(queries, keys, k, ready);
    }

    @Override
    public AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale) {
        return in.attend(query, keys, values, subset, scale);
    }

    @Override
    public void close() {
        in.close();
    }
}
