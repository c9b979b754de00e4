package dev.attend.index.graph;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopK;
import java.util.List;

/**
 * The vectors a graph index is built and searched over, by node ordinal {@code 0..size()-1}, wherever they are
 * stored: the index's own rows, or rows of a store someone else holds (a KV session's keys), so that a key is held
 * once. The graph code reads vectors only through here (Lucene's {@code RandomVectorScorerSupplier} in role).
 * Scores are inner products in the index's encoded space ({@link dev.attend.index.SimilarityEncoding}).
 */
public interface GraphVectors {

    /** Nodes readable: rows joined to the graph so far. */
    int size();

    /** Dimension of a node's vector as scored (the encoded dimension). */
    int dim();

    /** A scorer of {@code query} (encoded, of {@link #dim()} components) against nodes; one per search and thread. */
    QueryScorer scorer(float[] query);

    /** Copies node {@code ord}'s vector into {@code dst[offset, offset + dim())}. */
    void readRow(int ord, float[] dst, int offset);

    /** Copies nodes {@code ords[0, count)}' vectors into {@code dst}, node {@code ords[i]} at {@code i * dim()}. */
    void readRows(int[] ords, int count, float[] dst);

    /**
     * The exact {@code k} best of nodes {@code [from, to)} for each query by inner product (ids are ordinals), computed
     * on {@code scorer}.
     */
    List<TopK> exactTopK(float[][] queries, int from, int to, int k, Scorer scorer);

    /** Bytes these vectors hold for the index: 0 when the rows belong to someone else. */
    long bytes();

    /** Scores one query against nodes. */
    @FunctionalInterface
    interface QueryScorer {
        float score(int ord);

        /** {@code out[i] = score(ords[i])} for {@code i < count}; stores whose rows miss the cache score a batch together. */
        default void score(int[] ords, int count, float[] out) {
            for (int i = 0; i < count; i++) {
                out[i] = score(ords[i]);
            }
        }
    }
}
