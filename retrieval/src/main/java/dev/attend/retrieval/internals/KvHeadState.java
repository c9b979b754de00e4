package dev.attend.retrieval.internals;

import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
import dev.attend.index.VectorIndex;
import dev.attend.retrieval.policy.HeadPolicy;
import dev.attend.retrieval.policy.PolicyChooser;
import dev.attend.retrieval.policy.PolicyHead;
import java.util.ArrayList;
import java.util.List;

/**
 * The keys, values and indexes of one KV head: one index, or one per query head reading this KV head
 * (each trained on its own head's queries). Positions {@code [sinks, indexedUpTo)} are in every index
 * once they exist; every other stored position belongs to the static set and is attended exactly.
 * Writers of the stores (append, prefill, the end of a build) hold this object's monitor; the inserter
 * (keys that left the window into the indexes, off the append's path) holds {@link #indexing} and raises
 * {@link #indexedUpTo} after each key is in every index. Readers take {@link #indexedUpTo} first and
 * ignore retrieved positions at or past it, so a search racing an insertion never counts a key twice.
 *
 * <p>A head under another {@link HeadPolicy} than the built-in retrieval hands its stores to a {@link PolicyHead}
 * once its prefill ends ({@link #policyHead}); from then on every read and write of the head goes through it under
 * this object's monitor, and {@link #keys}/{@link #values} follow the head's stores (a streaming head replaces them
 * as it drops tokens).
 */
public final class KvHeadState {

    public volatile VectorStore keys;
    public volatile VectorStore values;
    /** Prefill queries per index (a query for every index is one array in every list), kept until the indexes are built. */
    public final List<List<float[]>> trainingQueries;
    /** The position of each prefill query (where it attended causally), kept only while an automatic choice waits: what it measures. */
    public final List<Integer> trainingPositions = new ArrayList<>();
    /** The policy name configured for this head ({@code retrieval}, another policy, or {@code auto...}). */
    public final String configuredPolicy;
    /** The policy the head follows: the configured one, or for {@code auto} the choice once made (null before). */
    public volatile HeadPolicy policy;
    /** The measurements behind an automatic choice (null otherwise). */
    public volatile PolicyChooser.Choice choice;
    /** The head that answers once opened, for policies other than the built-in retrieval (null before and for retrieval). */
    public volatile PolicyHead policyHead;
    /** The indexes (one per group), all built together; null before. */
    public volatile VectorIndex[] indexes;
    public volatile int indexedUpTo;
    public volatile boolean building;
    /** Work done so far by a running build (training queries projected, or keys inserted), and the total. */
    public volatile int buildDone;
    public volatile int buildTotal;
    public volatile Throwable buildFailure;
    /** Whether the head's bookkeeping is charged to its session's limits (at its first write); under this object's monitor. */
    public boolean charged;
    /** Held while keys that left the window are inserted into the indexes (one inserter at a time). */
    public final Object indexing = new Object();
    /** Whether an insertion task is queued and has not started yet (appends then need not queue another). */
    public final java.util.concurrent.atomic.AtomicBoolean indexingQueued = new java.util.concurrent.atomic.AtomicBoolean();

    public KvHeadState(int dim, Precision precision, int indexes, String configuredPolicy, HeadPolicy policy) {
        this.configuredPolicy = configuredPolicy;
        this.policy = policy;
        this.keys = new VectorStore(dim, precision);
        this.values = new VectorStore(dim, precision);
        this.trainingQueries = new ArrayList<>(indexes);
        for (int i = 0; i < indexes; i++) {
            trainingQueries.add(new ArrayList<>());
        }
    }

    /** Tokens taken (a streaming head holds fewer). */
    public int size() {
        PolicyHead p = policyHead;
        return p != null ? p.tokens() : keys.size();
    }

    /** Whether the head follows the built-in retrieval (its own index), as chosen or configured. */
    public boolean builtInRetrieval() {
        return policy instanceof HeadPolicy.Retrieval;
    }

    /** Training queries held (a query that trains several indexes is one array, counted once). */
    public long trainingQueryCount() {
        if (trainingQueries.size() == 1) {
            return trainingQueries.getFirst().size();
        }
        java.util.Set<float[]> distinct = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (List<float[]> l : trainingQueries) {
            distinct.addAll(l);
        }
        return distinct.size();
    }
}
