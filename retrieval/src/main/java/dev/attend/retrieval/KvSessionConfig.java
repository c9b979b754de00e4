package dev.attend.retrieval;

import dev.attend.gpu.Precision;
import dev.attend.index.graph.AttentionAwareIndex;
import java.util.Objects;

/**
 * The shape of a KV session and how it attends.
 *
 * @param layers              attention layers
 * @param kvHeads             key/value heads per layer
 * @param queryHeadsPerKvHead query heads sharing one KV head (grouped-query attention; 1 for plain multi-head)
 * @param headDim             dimension of keys, values and queries (32 to 256 in practice)
 * @param sinkTokens          the first tokens, always attended exactly (S)
 * @param windowTokens        the most recent tokens, always attended exactly (W)
 * @param topK                keys retrieved from the index per attend
 * @param scale               logit scale, usually {@code 1 / sqrt(headDim)}
 * @param indexParams         parameters of each KV head's attention-aware index
 * @param storage             precision of the stored keys and values (the index keeps float32 keys)
 * @param retriever           which index retrieves the top-k keys
 * @param indexPerQueryHead   one index per query head over its KV head's keys, trained on that head's own queries
 *                            (as RetrievalAttention), instead of one per KV head shared by its query heads; each
 *                            index holds its own copy of the keys, so the index memory grows with the group size
 * @param policies            how each KV head attends ({@link HeadPolicies}: retrieval unless set)
 */
public record KvSessionConfig(int layers, int kvHeads, int queryHeadsPerKvHead, int headDim, int sinkTokens,
                              int windowTokens, int topK, float scale, AttentionAwareIndex.Params indexParams,
                              Precision storage, Retriever retriever, boolean indexPerQueryHead, HeadPolicies policies) {

    /** The index a KV head retrieves its top-k keys from. */
    public enum Retriever {
        /** {@link AttentionAwareIndex}: a graph over the keys shaped by the prefill queries (the default). */
        ATTENTION_AWARE("attention-aware"),
        /** HNSW over the keys alone (hnswlib), as a vector database would index them: the baseline; prefill queries are not kept. */
        HNSW("hnsw");

        private final String wireName;

        Retriever(String wireName) {
            this.wireName = wireName;
        }

        /** The name in configuration files and the HTTP API. */
        public String wireName() {
            return wireName;
        }

        /** The retriever named {@code name} ({@link #wireName()}), or an error listing the known ones. */
        public static Retriever of(String name) {
            for (Retriever r : values()) {
                if (r.wireName.equals(name)) {
                    return r;
                }
            }
            throw new IllegalArgumentException("unknown retriever '" + name + "': use attention-aware or hnsw");
        }
    }

    /** S = 128 sink tokens and W = 512 recent tokens, as RetrievalAttention; top-100; scale 1/sqrt(d). */
    public static KvSessionConfig defaults(int layers, int kvHeads, int queryHeadsPerKvHead, int headDim) {
        return new KvSessionConfig(layers, kvHeads, queryHeadsPerKvHead, headDim, 128, 512, 100,
                (float) (1 / Math.sqrt(headDim)), AttentionAwareIndex.Params.defaults(), Precision.FLOAT32,
                Retriever.ATTENTION_AWARE, false, HeadPolicies.defaults());
    }

    public KvSessionConfig {
        if (layers < 1 || kvHeads < 1 || queryHeadsPerKvHead < 1) {
            throw new IllegalArgumentException("layers, kvHeads and queryHeadsPerKvHead must be >= 1, got "
                    + layers + ", " + kvHeads + ", " + queryHeadsPerKvHead);
        }
        if (headDim < 1 || headDim > 1024) {
            throw new IllegalArgumentException("headDim must be in [1, 1024], got " + headDim);
        }
        if (sinkTokens < 0 || windowTokens < 0 || topK < 1) {
            throw new IllegalArgumentException("sinkTokens and windowTokens must be >= 0 and topK >= 1, got "
                    + sinkTokens + ", " + windowTokens + ", " + topK);
        }
        if (!(scale > 0) || !Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be positive and finite, got " + scale);
        }
        Objects.requireNonNull(indexParams, "indexParams");
        Objects.requireNonNull(storage, "storage");
        Objects.requireNonNull(retriever, "retriever");
        Objects.requireNonNull(policies, "policies");
    }

    /** Checks what needs the whole configuration (the head policies against the shape and retriever). */
    public KvSessionConfig checked() {
        policies.check(this);
        return this;
    }

    /** The same with another static set (sinks, window). */
    public KvSessionConfig withStaticSet(int sinks, int window) {
        return new KvSessionConfig(layers, kvHeads, queryHeadsPerKvHead, headDim, sinks, window, topK, scale, indexParams, storage, retriever, indexPerQueryHead, policies);
    }

    /** The same with another number of retrieved keys. */
    public KvSessionConfig withTopK(int k) {
        return new KvSessionConfig(layers, kvHeads, queryHeadsPerKvHead, headDim, sinkTokens, windowTokens, k, scale, indexParams, storage, retriever, indexPerQueryHead, policies);
    }

    /** The same with another retriever. */
    public KvSessionConfig withRetriever(Retriever r) {
        return new KvSessionConfig(layers, kvHeads, queryHeadsPerKvHead, headDim, sinkTokens, windowTokens, topK, scale, indexParams, storage, r, indexPerQueryHead, policies);
    }

    /** The same with another storage precision. */
    public KvSessionConfig withStorage(Precision p) {
        return new KvSessionConfig(layers, kvHeads, queryHeadsPerKvHead, headDim, sinkTokens, windowTokens, topK, scale, indexParams, p, retriever, indexPerQueryHead, policies);
    }

    /** The same with another logit scale. */
    public KvSessionConfig withScale(float s) {
        return new KvSessionConfig(layers, kvHeads, queryHeadsPerKvHead, headDim, sinkTokens, windowTokens, topK, s, indexParams, storage, retriever, indexPerQueryHead, policies);
    }

    /** The same with one index per query head ({@code true}) or per KV head. */
    public KvSessionConfig withIndexPerQueryHead(boolean perQueryHead) {
        return new KvSessionConfig(layers, kvHeads, queryHeadsPerKvHead, headDim, sinkTokens, windowTokens, topK, scale, indexParams,
                storage, retriever, perQueryHead, policies);
    }

    /** The same with other head policies. */
    public KvSessionConfig withPolicies(HeadPolicies p) {
        return new KvSessionConfig(layers, kvHeads, queryHeadsPerKvHead, headDim, sinkTokens, windowTokens, topK, scale, indexParams,
                storage, retriever, indexPerQueryHead, p);
    }

    /** Indexes per KV head (HNSW learns nothing from queries: one per KV head whatever {@code indexPerQueryHead} says). */
    public int indexesPerKvHead() {
        return indexPerQueryHead && retriever == Retriever.ATTENTION_AWARE ? queryHeadsPerKvHead : 1;
    }

    /**
     * Distance computations an index search may spend by default for {@code k} keys out of a head of {@code tokens}:
     * {@code 12 sqrt(tokens)}, at least {@code 2k}. The index needs a falling fraction of the keys as they grow
     * (recall@100 of 0.95 took 12%, 3.1% and 0.84% of them at 10^4, 10^5 and 10^6 keys; bench/RESULTS.md): about a
     * square root.
     */
    public static int defaultBudget(int tokens, int k) {
        return (int) Math.max(2L * k, Math.ceil(12 * Math.sqrt(tokens)));
    }

    /** Query heads per layer. */
    public int queryHeads() {
        return kvHeads * queryHeadsPerKvHead;
    }
}
