package dev.attend.gpu;

import java.util.Arrays;

/**
 * The rows of one query whose scores reach its pass-1 bound, kept as sort keys and ordered once at the end.
 * The bound (the k-th largest tile maximum) leaves about k rows per query, so one sort of a few dozen longs
 * replaces a heap's k sift-ups, its replacements and its k sift-downs to drain, whose data-dependent branches
 * cost more than the sort's.
 *
 * <p>A key orders as {@link TopKCollector} does: higher score first, then the smaller row. It is the score's bits
 * mapped to an order-preserving int (zero's sign dropped, so -0 and 0 tie as they compare) in the high half and
 * {@code Integer.MAX_VALUE - row} in the low half; ascending keys are ascending rank, so the best k are the last k.
 */
final class ReachingRows {

    private long[] keys = new long[32];
    private int size;

    void add(float score, int row) {
        if (size == keys.length) {
            keys = Arrays.copyOf(keys, 2 * size);
        }
        int bits = Float.floatToRawIntBits(score + 0f);
        keys[size++] = (long) (bits ^ ((bits >> 31) & 0x7fffffff)) << 32 | (Integer.MAX_VALUE - row);
    }

    int size() {
        return size;
    }

    /** The best {@code k} rows, best first. */
    TopK top(int k) {
        Arrays.sort(keys, 0, size);
        int n = Math.min(k, size);
        int[] ids = new int[n];
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) {
            long key = keys[size - 1 - i];
            int sortable = (int) (key >> 32);
            scores[i] = Float.intBitsToFloat(sortable ^ ((sortable >> 31) & 0x7fffffff));
            ids[i] = Integer.MAX_VALUE - (int) key;
        }
        return new TopK(ids, scores);
    }

    /** Offers every kept row to {@code collector} (a collector carried across ranges of rows). */
    void offerTo(TopKCollector collector) {
        for (int i = 0; i < size; i++) {
            int sortable = (int) (keys[i] >> 32);
            collector.offer(Float.intBitsToFloat(sortable ^ ((sortable >> 31) & 0x7fffffff)), Integer.MAX_VALUE - (int) keys[i]);
        }
    }
}
