package dev.attend.retrieval.policy;

import dev.attend.index.graph.AttentionAwareIndex;
import java.util.Objects;

/**
 * How a retrieval head ({@link HeadPolicy.Retrieval}, {@link HeadPolicy.Recycled}, {@link HeadPolicy.RetrievalTail})
 * builds and grows its indexes.
 *
 * @param params          the attention-aware index's parameters
 * @param hnsw            HNSW over the keys alone instead (the baseline: no training queries)
 * @param indexes         indexes per KV head: 1, or one per query head reading it (each trained on its own head's queries)
 * @param deferInsertion  whether a token that leaves the window waits for {@link PolicyHead#catchUp} to enter the index
 *                        (a KV session runs it off the append's path); otherwise the append inserts it
 */
public record IndexSettings(AttentionAwareIndex.Params params, boolean hnsw, int indexes, boolean deferInsertion) {

    public IndexSettings {
        Objects.requireNonNull(params, "params");
        if (indexes < 1) {
            throw new IllegalArgumentException("indexes must be >= 1, got " + indexes);
        }
    }

    /** One attention-aware index, grown on every append. */
    public static IndexSettings of(AttentionAwareIndex.Params params) {
        return new IndexSettings(params, false, 1, false);
    }
}
