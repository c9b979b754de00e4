package dev.attend.retrieval.internals;

import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
import dev.attend.index.VectorIndex;
import java.util.ArrayList;
import java.util.List;

/**
 * The keys, values and index of one KV head. Positions {@code [sinks, indexedUpTo)} are in the index
 * once it exists; every other stored position belongs to the static set and is attended exactly.
 * The writer (append, prefill, the end of a build) holds this object's monitor; readers take
 * {@link #indexedUpTo} first and ignore retrieved positions at or past it, so a search racing an
 * append never counts a key twice.
 */
public final class KvHeadState {

    public final VectorStore keys;
    public final VectorStore values;
    /** Prefill queries of this head's query heads, kept until its index is built from them. */
    public final List<float[]> trainingQueries = new ArrayList<>();
    public volatile VectorIndex index;
    public volatile int indexedUpTo;
    public volatile boolean building;
    /** Work done so far by a running build (training queries projected, or keys inserted), and the total. */
    public volatile int buildDone;
    public volatile int buildTotal;
    public volatile Throwable buildFailure;

    public KvHeadState(int dim, Precision precision) {
        this.keys = new VectorStore(dim, precision);
        this.values = new VectorStore(dim, precision);
    }

    public int size() {
        return keys.size();
    }
}
