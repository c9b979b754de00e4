package dev.attend.gpu;

import java.util.Arrays;

/**
 * Keeps the {@code k} best (score, id) pairs seen so far in a min-heap on flat arrays: the one top-k
 * selection every scorer uses. Ordering: higher score first, then smaller id, so results are
 * deterministic under ties.
 */
public final class TopKCollector {

    private final int k;
    private final float[] scores;
    private final int[] ids;
    private int size;

    public TopKCollector(int k) {
        VectorChecks.checkK(k);
        this.k = k;
        this.scores = new float[k];
        this.ids = new int[k];
    }

    /** The score a candidate must beat to enter, or -infinity while the heap is not full. */
    public float threshold() {
        return size < k ? Float.NEGATIVE_INFINITY : scores[0];
    }

    /** The k it keeps. */
    public int capacity() {
        return k;
    }

    public int size() {
        return size;
    }

    /** Offers a candidate; returns whether it entered. */
    public boolean offer(float score, int id) {
        if (size < k) {
            scores[size] = score;
            ids[size] = id;
            siftUp(size++);
            return true;
        }
        if (k == 0 || !better(score, id, scores[0], ids[0])) {
            return false;
        }
        scores[0] = score;
        ids[0] = id;
        siftDown(0);
        return true;
    }

    /** Empties it, for reuse with the same {@code k}. */
    public void clear() {
        size = 0;
    }

    /** Adds everything another collector holds. */
    public void addAll(TopKCollector other) {
        for (int i = 0; i < other.size; i++) {
            offer(other.scores[i], other.ids[i]);
        }
    }

    /**
     * The collected pairs, best first. Leaves the collector empty. Sorted as packed keys ({@link #rankKey}), not popped
     * off the heap: an index build drains millions of lists of 100, and a heap pops each through its depth.
     */
    public TopK drain() {
        int n = size;
        long[] keys = rankScratch(n);
        for (int i = 0; i < n; i++) {
            keys[i] = rankKey(scores[i], ids[i]);
        }
        size = 0;
        return ranked(keys, n, n);
    }

    /**
     * The best {@code k} of the {@code count} pairs at {@code offset} of {@code scores} and {@code ids}, best first:
     * what offering them all to a collector of {@code k} and draining it gives, in one sort.
     */
    static TopK best(float[] scores, int[] ids, int offset, int count, int k) {
        long[] keys = rankScratch(count);
        for (int i = 0; i < count; i++) {
            keys[i] = rankKey(scores[offset + i], ids[offset + i]);
        }
        return ranked(keys, count, Math.min(k, count));
    }

    private static TopK ranked(long[] keys, int n, int k) {
        Arrays.sort(keys, 0, n);
        int[] outIds = new int[k];
        float[] outScores = new float[k];
        for (int i = 0; i < k; i++) {
            outIds[i] = rankedId(keys[i]);
            outScores[i] = rankedScore(keys[i]);
        }
        return new TopK(outIds, outScores);
    }

    private static final Scratch RANK_SCRATCH = new Scratch(1 << 20);

    private static long[] rankScratch(int n) {
        return RANK_SCRATCH.longs(n);
    }

    /**
     * A long whose ascending order is the collectors' ranking: higher score first (its bits turned into an int that
     * orders like the float, then complemented), then smaller id. The one difference from {@link #better}: -0.0 ranks
     * just below 0.0 instead of tying with it.
     */
    static long rankKey(float score, int id) {
        int bits = Float.floatToRawIntBits(score);
        int ordered = bits ^ ((bits >> 31) & 0x7fffffff);
        return ((long) ~ordered << 32) | ((id ^ Integer.MIN_VALUE) & 0xffffffffL);
    }

    static int rankedId(long key) {
        return (int) key ^ Integer.MIN_VALUE;
    }

    static float rankedScore(long key) {
        int ordered = ~(int) (key >>> 32);
        return Float.intBitsToFloat(ordered ^ ((ordered >> 31) & 0x7fffffff));
    }

    /** Whether (s1, id1) ranks above (s2, id2). */
    static boolean better(float s1, int id1, float s2, int id2) {
        return s1 > s2 || (s1 == s2 && id1 < id2);
    }

    private void siftUp(int i) {
        float s = scores[i];
        int id = ids[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!better(scores[parent], ids[parent], s, id)) {
                break;
            }
            scores[i] = scores[parent];
            ids[i] = ids[parent];
            i = parent;
        }
        scores[i] = s;
        ids[i] = id;
    }

    private void siftDown(int i) {
        float s = scores[i];
        int id = ids[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < size && better(scores[child], ids[child], scores[right], ids[right])) {
                child = right;
            }
            if (!better(s, id, scores[child], ids[child])) {
                break;
            }
            scores[i] = scores[child];
            ids[i] = ids[child];
            i = child;
        }
        scores[i] = s;
        ids[i] = id;
    }
}
