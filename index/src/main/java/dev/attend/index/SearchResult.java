package dev.attend.index;

import java.util.Arrays;

/** The best ids for one query, best first, with their scores (higher is better) and what the search cost. */
public record SearchResult(long[] ids, float[] scores, SearchStats stats) {

    public SearchResult {
        if (ids.length != scores.length) {
            throw new IllegalArgumentException("ids and scores differ in length");
        }
    }

    public int size() {
        return ids.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SearchResult r && Arrays.equals(ids, r.ids) && Arrays.equals(scores, r.scores);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(scores);
    }

    @Override
    public String toString() {
        return "SearchResult" + Arrays.toString(ids) + " " + stats;
    }
}
