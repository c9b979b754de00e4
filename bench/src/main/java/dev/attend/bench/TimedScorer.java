package dev.attend.bench;

import dev.attend.gpu.FilterScorer;
import dev.attend.gpu.OpenClScorer;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.SlotTotals;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import java.util.concurrent.atomic.LongAdder;

/**
 * A scorer that counts what index builds ask of it: the range top-k calls (a build's exact neighbours of its training
 * queries and, on a GPU, of its under-linked keys), their queries and the time the calling build threads spent in them,
 * waiting for a device slot included. Everything else passes through untimed.
 */
final class TimedScorer extends FilterScorer {

    private final LongAdder calls = new LongAdder();
    private final LongAdder queries = new LongAdder();
    private final LongAdder nanos = new LongAdder();

    TimedScorer(Scorer scorer) {
        super(scorer);
    }

    /**
     * Range top-k calls so far, their queries, and the seconds spent in them summed over the calling threads; on an
     * OpenCL scorer what they took of its device slots (else null).
     */
    record RangeTopK(long calls, long queries, double threadSeconds, SlotTotals slots) {
    }

    RangeTopK rangeTopK() {
        return new RangeTopK(calls.sum(), queries.sum(), nanos.sum() / 1e9, in instanceof OpenClScorer cl ? cl.slotTotals() : null);
    }

    @Override
    public TopKResult topK(float[][] q, VectorStore keys, int from, int to, int k) {
        long t0 = System.nanoTime();
        try {
            return in.topK(q, keys, from, to, k);
        } finally {
            nanos.add(System.nanoTime() - t0);
            calls.increment();
            queries.add(q.length);
        }
    }
}
