package dev.attend.retrieval.policy;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorChecks;
import dev.attend.gpu.VectorStore;
import dev.attend.index.graph.AttentionAwareIndex;
import java.util.Objects;

/**
 * One KV head under a {@link HeadPolicy}: opened on a prefill (keys, values and the prefill's queries), then
 * answering decode queries and taking decoded tokens one at a time. Not thread-safe: one head, one decode loop.
 */
public abstract sealed class PolicyHead permits FullHead, StreamingHead, RetrievalHead, BlockHead {

    final int dim;
    final float scale;
    final Scorer scorer;
    /** The keys and values held (every token's, but for a streaming head). */
    VectorStore keys;
    VectorStore values;
    int tokens;

    PolicyHead(int dim, float scale, Scorer scorer) {
        if (dim < 1 || !(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("dim must be >= 1 and scale finite and > 0, got " + dim + " and " + scale);
        }
        this.dim = dim;
        this.scale = scale;
        this.scorer = Objects.requireNonNull(scorer, "scorer");
        this.keys = new VectorStore(dim, Precision.FLOAT32);
        this.values = new VectorStore(dim, Precision.FLOAT32);
    }

    /** Stores a token's key and value (the value first: a reader sizes its view by the keys). */
    final void hold(float[] key, float[] value) {
        values.append(value);
        keys.append(key);
    }

    /** Stores the prefill's tokens, positions 0, 1, ... */
    final void holdAll(float[][] k, float[][] v) {
        for (int i = 0; i < k.length; i++) {
            hold(k[i], v[i]);
        }
        tokens = k.length;
    }

    /**
     * A head under {@code policy} holding the prefill's {@code keys} and {@code values} (positions 0, 1, ...);
     * {@code queries} are the prefill's queries, which train a retrieval index (unused by the other policies).
     */
    public static PolicyHead open(HeadPolicy policy, float[][] keys, float[][] values, float[][] queries, float scale, Scorer scorer,
                                  AttentionAwareIndex.Params params) {
        Objects.requireNonNull(policy, "policy");
        if (keys.length != values.length) {
            throw new IllegalArgumentException(keys.length + " keys but " + values.length + " values");
        }
        int dim = keys.length > 0 ? keys[0].length : queries.length > 0 ? queries[0].length : 0;
        for (int i = 0; i < keys.length; i++) {
            VectorChecks.checkVector("key " + i, keys[i], dim);
            VectorChecks.checkVector("value " + i, values[i], dim);
        }
        for (int i = 0; i < queries.length; i++) {
            VectorChecks.checkVector("query " + i, queries[i], dim);
        }
        PolicyHead head = switch (policy) {
            case HeadPolicy.Full f -> new FullHead(dim, scale, scorer);
            case HeadPolicy.Streaming s -> new StreamingHead(dim, scale, scorer, s.sinks(), s.window());
            case HeadPolicy.Retrieval r -> new RetrievalHead(dim, scale, scorer, r.sinks(), r.window(), r.k(), Double.NaN, -1, params);
            case HeadPolicy.Recycled r -> new RetrievalHead(dim, scale, scorer, r.sinks(), r.window(), r.k(), r.threshold(), r.tail() ? 0 : -1,
                    params);
            case HeadPolicy.Block b -> new BlockHead(dim, scale, scorer, b.sinks(), b.window(), b.blockSize(), b.blocks());
            case HeadPolicy.RetrievalTail t -> new RetrievalHead(dim, scale, scorer, t.sinks(), t.window(), t.k(), Double.NaN, t.clusters(),
                    params);
        };
        head.prefill(keys, values, queries);
        return head;
    }

    abstract void prefill(float[][] keys, float[][] values, float[][] queries);

    /** The attention of {@code query} over the head's tokens as the policy reads them; {@code budget} bounds an index search. */
    public abstract PolicyAnswer attend(float[] query, int budget);

    /** Takes the decoded token at position {@link #tokens()}. */
    public final void append(float[] key, float[] value) {
        VectorChecks.checkVector("key", key, dim);
        VectorChecks.checkVector("value", value, dim);
        add(key, value);
        tokens++;
    }

    abstract void add(float[] key, float[] value);

    /** Tokens the head has taken (prefill and appends), held or not. */
    public int tokens() {
        return tokens;
    }

    /** Index searches done so far. */
    public long searches() {
        return 0;
    }

    /** Queries answered with the selection of an earlier search ({@link HeadPolicy.Recycled}). */
    public long reuses() {
        return 0;
    }

    /** Bytes of keys and values held. */
    public long kvBytes() {
        return keys.bytes() + values.bytes();
    }

    /** Bytes of the index (0 without one). */
    public long indexBytes() {
        return 0;
    }

    /** A static set of a head of {@code n} held rows: the first {@code sinks}, then the rows from {@code from} on (never twice). */
    static int[] staticSet(int sinks, int from, int n) {
        int s = Math.min(sinks, n);
        int rest = Math.max(from, s);
        int[] out = new int[s + n - rest];
        for (int p = 0; p < s; p++) {
            out[p] = p;
        }
        for (int p = rest; p < n; p++) {
            out[s + p - rest] = p;
        }
        return out;
    }

    void checkQuery(float[] query, int budget) {
        VectorChecks.checkVector("query", query, dim);
        if (budget < 1) {
            throw new IllegalArgumentException("budget must be >= 1, got " + budget);
        }
        if (tokens == 0) {
            throw new IllegalStateException("the head holds no tokens yet");
        }
    }

    /** Exact attention over the held rows {@code subset} (all of them when null). */
    PolicyAnswer exact(float[] query, int[] subset) {
        AttentionOutput a = scorer.attend(query, keys, values, subset, scale);
        return new PolicyAnswer(a.output(), a.logSumExp(), subset == null ? keys.size() : subset.length, false);
    }
}
