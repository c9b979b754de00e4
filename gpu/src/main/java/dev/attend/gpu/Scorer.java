package dev.attend.gpu;

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
     * Softmax attention of {@code query} over the rows {@code subset} of {@code keys} and
     * {@code values} (every row when {@code subset} is null): logits are {@code scale * q.k}.
     */
    AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale);

    /** Releases threads and device buffers. */
    @Override
    void close();
}
