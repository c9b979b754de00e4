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
 * answering decode queries and taking decoded tokens one at a time. Not thread-safe (one head, one decode loop),
 * except that a head whose {@link #concurrentReads()} is true may answer on several threads at once and alongside
 * {@link #catchUp}; its appends still take turns with everything else.
 */
public abstract sealed class PolicyHead permits FullHead, StreamingHead, RetrievalHead, BlockHead {

    final int dim;
    final float scale;
    final Scorer scorer;
    /** The keys and values held (every token's, but for a streaming head, which replaces them as it drops tokens). */
    VectorStore keys;
    VectorStore values;
    /** Written by the one writer, read by anyone (a session's size). */
    volatile int tokens;

    PolicyHead(float scale, Scorer scorer, VectorStore keys, VectorStore values) {
        this.dim = keys.dim();
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("scale must be finite and > 0, got " + scale);
        }
        if (values.dim() != dim) {
            throw new IllegalArgumentException("keys of dimension " + dim + " but values of dimension " + values.dim());
        }
        this.scale = scale;
        this.scorer = Objects.requireNonNull(scorer, "scorer");
        this.keys = keys;
        this.values = values;
    }

    /**
     * A head under {@code policy} holding the prefill's {@code keys} and {@code values} (positions 0, 1, ...);
     * {@code queries} are the prefill's queries, which train a retrieval index (unused by the other policies).
     */
    public static PolicyHead open(HeadPolicy policy, float[][] keys, float[][] values, float[][] queries, float scale, Scorer scorer,
                                  AttentionAwareIndex.Params params) {
        return open(policy, keys, values, queries, scale, scorer, IndexSettings.of(params));
    }

    /** The same with a retrieval head's {@link IndexSettings}. */
    public static PolicyHead open(HeadPolicy policy, float[][] keys, float[][] values, float[][] queries, float scale, Scorer scorer,
                                  IndexSettings settings) {
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
        if (dim < 1) {
            throw new IllegalArgumentException("a head needs keys or queries to know its dimension");
        }
        VectorStore k = new VectorStore(dim, Precision.FLOAT32);
        VectorStore v = new VectorStore(dim, Precision.FLOAT32);
        for (int i = 0; i < keys.length; i++) {
            v.append(values[i]);
            k.append(keys[i]);
        }
        return over(policy, k, v, k.size(), new float[][][] {queries}, scale, scorer, settings, BuildProgress.NONE);
    }

    /**
     * A head under {@code policy} over stores that already hold its tokens' keys and values (positions 0, 1, ...): it
     * keeps them and appends to them (a KV session hands over its own). A streaming head replaces them as it drops
     * tokens ({@link #keys()}). It takes the first {@code tokens} rows; rows appended by someone else meanwhile are
     * taken with {@link #appended()}. The queries are checked by the caller: {@code queries[g]} trains index g of a
     * retrieval head with an index per query head, the other heads read {@code queries[0]}; {@code settings} are a
     * retrieval head's, {@code progress} receives its build's (done, total) steps as {@link AttentionAwareIndex#build}
     * counts them.
     */
    public static PolicyHead over(HeadPolicy policy, VectorStore keys, VectorStore values, int tokens, float[][][] queries, float scale,
                                  Scorer scorer, IndexSettings settings, BuildProgress progress) {
        Objects.requireNonNull(policy, "policy");
        if (tokens < 0 || keys.size() < tokens || values.size() < tokens) {
            throw new IllegalArgumentException("stores of " + keys.size() + " keys and " + values.size() + " values do not hold " + tokens
                    + " tokens");
        }
        PolicyHead head = switch (policy) {
            case HeadPolicy.Full f -> new FullHead(scale, scorer, keys, values);
            case HeadPolicy.Streaming s -> new StreamingHead(scale, scorer, keys, values, s.sinks(), s.window());
            case HeadPolicy.Retrieval r -> new RetrievalHead(scale, scorer, keys, values, r.sinks(), r.window(), r.k(), false, Double.NaN, -1,
                    settings, progress);
            case HeadPolicy.Recycled r -> new RetrievalHead(scale, scorer, keys, values, r.sinks(), r.window(), r.k(), true, r.threshold(),
                    r.tail() ? 0 : -1, settings, progress);
            case HeadPolicy.Block b -> new BlockHead(scale, scorer, keys, values, b.sinks(), b.window(), b.blockSize(), b.blocks());
            case HeadPolicy.RetrievalTail t -> new RetrievalHead(scale, scorer, keys, values, t.sinks(), t.window(), t.k(), false, Double.NaN,
                    t.clusters(), settings, progress);
        };
        head.tokens = tokens;
        head.prefill(queries);
        return head;
    }

    /** Takes the tokens held at open (positions [0, tokens)) and the prefill's queries (per index; see {@link #over}). */
    abstract void prefill(float[][][] queries);

    /** Receives a build's progress: {@code done} of {@code total} steps. */
    @FunctionalInterface
    public interface BuildProgress {
        BuildProgress NONE = (done, total) -> {
        };

        void report(int done, int total);
    }

    /** The stores the head reads now (a streaming head's change as it drops tokens). */
    public VectorStore keys() {
        return keys;
    }

    public VectorStore values() {
        return values;
    }

    /** The attention of {@code query} over the head's tokens as the policy reads them; {@code budget} bounds an index search. */
    public abstract PolicyAnswer attend(float[] query, int budget);

    /**
     * The same for a query of query head group {@code queryGroup} (a head with an index per query head reads that one's),
     * retrieving {@code k} keys where the policy retrieves any (the others read what their policy says).
     */
    public PolicyAnswer attend(float[] query, int queryGroup, int k, int budget) {
        return attend(query, budget);
    }

    /** Whether {@link #attend} may run on several threads at once and alongside {@link #catchUp}. */
    public boolean concurrentReads() {
        return false;
    }

    /** Whether tokens taken wait for {@link #catchUp} (a deferred index insertion). */
    public boolean catchUpDue() {
        return false;
    }

    /** Does the work appends deferred (index insertions), outside the appends' turn. */
    public void catchUp() {
    }

    /** Prefill queries that came after the head opened, per index (a retrieval head's indexes learn from them; the others drop them). */
    public void learn(float[][][] queries) {
    }

    /** Keys in the head's index (0 without one). */
    public int indexedKeys() {
        return 0;
    }

    /** The index covers positions [sinks, indexedUpTo) (0 without one). */
    public int indexedUpTo() {
        return 0;
    }

    /** Frees the head's index, if any. */
    public void close() {
    }

    /** Takes the decoded token at position {@link #tokens()}. */
    public final void append(float[] key, float[] value) {
        VectorChecks.checkVector("key", key, dim);
        VectorChecks.checkVector("value", value, dim);
        values.append(value); // before the key: a reader sizes its view by the keys
        keys.append(key);
        took();
        tokens++;
    }

    /**
     * Takes the token at position {@link #tokens()}, which someone else already appended to the stores (a KV session
     * whose stores the head was opened over, catching up with the tokens that came while it opened).
     */
    public final void appended() {
        took();
        tokens++;
    }

    /** The token at position {@link #tokens} is the stores' last row: index it, close a block, drop what left, ... */
    abstract void took();

    /** Tokens the head has taken (prefill and appends), held or not. */
    public int tokens() {
        return tokens;
    }

    /** Index searches done so far. */
    public long searches() {
        return 0;
    }

    /** The cosine threshold of a recycling head (as configured or calibrated), NaN for the other heads. */
    public double recycleThreshold() {
        return Double.NaN;
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
    public static int[] staticSet(int sinks, int from, int n) {
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
        int used = subset == null ? keys.size() : subset.length;
        return new PolicyAnswer(a.output(), a.logSumExp(), used, false, used, new int[0]);
    }
}
