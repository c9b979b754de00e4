package dev.attend.gpu;

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

    /** The collected pairs, best first. Leaves the collector empty. */
    public TopK drain() {
        int n = size;
        int[] outIds = new int[n];
        float[] outScores = new float[n];
        for (int i = n - 1; i >= 0; i--) {
            outIds[i] = ids[0];
            outScores[i] = scores[0];
            size--;
            if (size > 0) {
                scores[0] = scores[size];
                ids[0] = ids[size];
                siftDown(0);
            }
        }
        return new TopK(outIds, outScores);
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
