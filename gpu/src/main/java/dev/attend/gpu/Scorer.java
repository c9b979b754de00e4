package dev.attend.gpu;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Scores queries against stored rows: the hot loop of retrieval attention, long-sequence
 * recommendation and hybrid retrieval. Scores are inner products computed in float32 (the scalar
 * reference accumulates in double). Every result names the {@link Device} it ran on.
 *
 * <p>Inputs are checked the same way on every backend: queries must match the store's dimension and
 * be finite, {@code k >= 0}, row ranges and subsets must lie inside the store.
 */
public interface Scorer extends AutoCloseable {

    /** The device this scorer runs on when nothing falls back. */
    Device device();

    /** Scores of every query against rows {@code [from, to)} of {@code keys}, row-major m x (to - from). */
    ScoreMatrix scores(float[][] queries, VectorStore keys, int from, int to);

    /**
     * The {@code k} best rows of {@code keys} by inner product for each query, streaming over the rows
     * (never an m x n matrix). Fewer than {@code k} when the store holds fewer rows.
     */
    TopKResult topK(float[][] queries, VectorStore keys, int k);

    /**
     * The {@code k} best rows of {@code keys} among rows {@code [from, to)} (a store that holds other rows too: a KV
     * session's keys outside an index). Ids are rows of the store. This default scans every row for {@code k} plus as
     * many more as there are rows outside the range, which holds the best {@code k} inside it, and keeps those; a
     * backend that can scan a range alone overrides it.
     */
    default TopKResult topK(float[][] queries, VectorStore keys, int from, int to, int k) {
        VectorChecks.checkRange(from, to, keys.size());
        VectorChecks.checkK(k);
        int outside = keys.size() - (to - from);
        TopKResult all = topK(queries, keys, k + outside);
        if (outside == 0) {
            return all;
        }
        List<TopK> out = new ArrayList<>(queries.length);
        for (TopK t : all.perQuery()) {
            int[] ids = new int[Math.min(k, t.size())];
            float[] scores = new float[ids.length];
            int m = 0;
            for (int i = 0; i < t.size() && m < ids.length; i++) {
                int row = t.ids()[i];
                if (row >= from && row < to) {
                    ids[m] = row;
                    scores[m++] = t.scores()[i];
                }
            }
            out.add(new TopK(Arrays.copyOf(ids, m), Arrays.copyOf(scores, m)));
        }
        return new TopKResult(out, all.device());
    }

    /** Receives the top K of queries {@code [from, to)}: {@code perQuery.get(i)} for i in that range. */
    @FunctionalInterface
    interface ReadyRange {
        void accept(int from, int to, List<TopK> perQuery);
    }

    /**
     * {@link #topK} handing each range of queries to {@code ready} as soon as its results are known, so that what
     * consumes them (a recommender's second stage) runs while later queries are still searched, in the same tasks.
     * Every query is in exactly one range; ranges may arrive at once on several threads. This default hands all
     * queries over in one range after the whole search.
     */
    default void topK(float[][] queries, VectorStore keys, int k, ReadyRange ready) {
        ready.accept(0, queries.length, topK(queries, keys, k).perQuery());
    }

    /**
     * Softmax attention of {@code query} over the rows {@code subset} of {@code keys} and
     * {@code values} (every row when {@code subset} is null): logits are {@code scale * q.k}.
     */
    AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale);

    /** Releases threads and device buffers. */
    @Override
    void close();
}
