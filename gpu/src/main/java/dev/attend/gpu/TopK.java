package dev.attend.gpu;

import java.util.Arrays;

/**
 * The best {@code k} rows for one query: ids and scores, best first (ties broken by the smaller id).
 * Holds {@code min(k, n)} entries.
 */
public record TopK(int[] ids, float[] scores) {

    public TopK {
        if (ids.length != scores.length) {
            throw new IllegalArgumentException("ids and scores differ in length: " + ids.length + " vs " + scores.length);
        }
    }

    public int size() {
        return ids.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TopK other && Arrays.equals(ids, other.ids) && Arrays.equals(scores, other.scores);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(scores);
    }

    @Override
    public String toString() {
        return "TopK" + Arrays.toString(ids);
    }
}
