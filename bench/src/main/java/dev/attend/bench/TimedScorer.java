package dev.attend.bench;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.Device;
import dev.attend.gpu.ScoreMatrix;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import java.util.concurrent.atomic.LongAdder;

/**
 * A scorer that counts what index builds ask of it: the range top-k calls (a build's exact neighbours of its training
 * queries and, on a GPU, of its under-linked keys), their queries and the time the calling build threads spent in them,
 * waiting for a device slot included. Everything else passes through untimed.
 */
final class TimedScorer implements Scorer {

    private final Scorer scorer;
    private final LongAdder calls = new LongAdder();
    private final LongAdder queries = new LongAdder();
    private final LongAdder nanos = new LongAdder();

    TimedScorer(Scorer scorer) {
        this.scorer = scorer;
    }

    /** Range top-k calls so far, their queries, and the seconds spent in them summed over the calling threads. */
    record RangeTopK(long calls, long queries, double threadSeconds) {
    }

    RangeTopK rangeTopK() {
        return new RangeTopK(calls.sum(), queries.sum(), nanos.sum() / 1e9);
    }

    @Override
    public Device device() {
        return scorer.device();
    }

    @Override
    public ScoreMatrix scores(float[][] q, VectorStore keys, int from, int to) {
        return scorer.scores(q, keys, from, to);
    }

    @Override
    public TopKResult topK(float[][] q, VectorStore keys, int k) {
        return scorer.topK(q, keys, k);
    }

    @Override
    public TopKResult topK(float[][] q, VectorStore keys, int from, int to, int k) {
        long t0 = System.nanoTime();
        try {
            return scorer.topK(q, keys, from, to, k);
        } finally {
            nanos.add(System.nanoTime() - t0);
            calls.increment();
            queries.add(q.length);
        }
    }

    @Override
    public void topK(float[][] q, VectorStore keys, int k, ReadyRange ready) {
        scorer.topK(q, keys, k, ready);
    }

    @Override
    public AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale) {
        return scorer.attend(query, keys, values, subset, scale);
    }

    @Override
    public void close() {
        scorer.close();
    }
}
