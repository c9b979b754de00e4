package dev.attend.retrieval;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorStore;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.index.factory.IndexKind;
import dev.attend.index.factory.VectorIndexes;
import dev.attend.retrieval.policy.HeadPolicy;
import dev.attend.retrieval.policy.LogSumExpMerge;
import dev.attend.retrieval.policy.PolicyAnswer;
import dev.attend.retrieval.policy.PolicyChooser;
import dev.attend.retrieval.policy.PolicyHead;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One KV head of a {@link KvSession}: its keys and values, and how it attends. Until its prefill ends it answers
 * exactly over every key; then its policy takes over: the built-in retrieval (one index over the head's own key rows,
 * or one per query head reading it, each trained on its own head's queries, built in the background), or another
 * {@link HeadPolicy} through a {@link PolicyHead}.
 *
 * <p>Positions {@code [sinks, indexedUpTo)} are in every index once they exist; every other stored position belongs to
 * the static set and is attended exactly. Writers (append, prefill, the end of a build) hold this object's monitor;
 * the inserter (keys that left the window into the indexes, off the append's path) holds {@link #indexing} and raises
 * {@link #indexedUpTo} after each key is in every index. Readers take {@link #indexedUpTo} first and ignore retrieved
 * positions at or past it, so a search racing an insertion never counts a key twice. A policy head is not
 * thread-safe: once it is open every read and write of the head goes through it under this object's monitor, and
 * {@link #keys}/{@link #values} follow its stores (a streaming head replaces them as it drops tokens).
 */
final class KvHead {

    private final KvSessionConfig config;
    private final Scorer scorer;
    private final Executor builds;
    private final Executor indexer;
    private volatile VectorStore keys;
    private volatile VectorStore values;
    /** Prefill queries per index (a query for every index is one array in every list), kept until the indexes are built. */
    private final List<List<float[]>> trainingQueries;
    /** The position of each prefill query (where it attended causally), kept only while an automatic choice waits. */
    private final List<Integer> trainingPositions = new ArrayList<>();
    /** The policy name configured ({@code retrieval}, another policy, or {@code auto...}). */
    private final String configuredPolicy;
    /** The policy the head follows: the configured one, or for {@code auto} the choice once made (null before). */
    private volatile HeadPolicy policy;
    /** The measurements behind an automatic choice (null otherwise). */
    private volatile PolicyChooser.Choice choice;
    /** The head that answers once opened, for policies other than the built-in retrieval. */
    private volatile PolicyHead policyHead;
    /** The indexes (one per group), all built together; null before. */
    private volatile VectorIndex[] indexes;
    private volatile int indexedUpTo;
    private volatile boolean building;
    /** Work done so far by a running build (training queries projected, or keys inserted), and the total. */
    private volatile int buildDone;
    private volatile int buildTotal;
    private volatile Throwable buildFailure;
    /** Whether the head's bookkeeping is charged to its session's limits (at its first write); under this object's monitor. */
    private boolean charged;
    /** Held while keys that left the window are inserted into the indexes (one inserter at a time). */
    private final Object indexing = new Object();
    /** Whether an insertion task is queued and has not started yet (appends then need not queue another). */
    private final AtomicBoolean indexingQueued = new AtomicBoolean();

    KvHead(KvSessionConfig config, Scorer scorer, Executor builds, Executor indexer, String configuredPolicy, HeadPolicy policy) {
        this.config = config;
        this.scorer = scorer;
        this.builds = builds;
        this.indexer = indexer;
        this.configuredPolicy = configuredPolicy;
        this.policy = policy;
        this.keys = new VectorStore(config.headDim(), config.storage());
        this.values = new VectorStore(config.headDim(), config.storage());
        int count = config.indexesPerKvHead();
        this.trainingQueries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            trainingQueries.add(new ArrayList<>());
        }
    }

    /** Tokens taken (a streaming head holds fewer). */
    int size() {
        PolicyHead p = policyHead;
        return p != null ? p.tokens() : keys.size();
    }

    VectorStore keys() {
        return keys;
    }

    HeadPolicy policy() {
        return policy;
    }

    /** Whether the head follows the built-in retrieval (its own indexes), as chosen or configured. */
    private boolean builtInRetrieval() {
        return policy instanceof HeadPolicy.Retrieval;
    }

    /** Whether a prefill's queries would be kept now (to train indexes not built yet); under this object's monitor. */
    boolean keepsQueries() {
        return config.retriever() == KvSessionConfig.Retriever.ATTENTION_AWARE && policyHead == null && indexes == null;
    }

    /** Whether the head is charged its bookkeeping; under this object's monitor. */
    boolean charged() {
        return charged;
    }

    void markCharged() {
        charged = true;
    }

    /** Stores a token (under this object's monitor): through the policy head once there is one. */
    void hold(float[] key, float[] value) {
        PolicyHead p = policyHead;
        if (p != null) {
            p.append(key, value);
            keys = p.keys(); // a streaming head may have replaced its stores
            values = p.values();
        } else {
            // Value before key: a reader sizes its snapshot by the keys, so every key it sees has its value.
            values.append(value);
            keys.append(key);
        }
    }

    /**
     * Takes a prefill chunk's queries (under this object's monitor, after its {@code tokens} keys from {@code from}):
     * they train the indexes to come, or a built index online; an open policy head learns nothing from them.
     */
    void takeQueries(int from, int tokens, float[][] queries, int[] queryHeads) {
        if (config.retriever() != KvSessionConfig.Retriever.ATTENTION_AWARE || queries.length == 0 || policyHead != null) {
            return;
        }
        int group = config.queryHeadsPerKvHead();
        VectorIndex[] built = indexes;
        float[][] copies = new float[queries.length][]; // one copy per query, shared by the indexes it trains
        for (int i = 0; i < queries.length; i++) {
            copies[i] = queries[i].clone();
        }
        for (int g = 0; g < config.indexesPerKvHead(); g++) {
            List<float[]> mine = new ArrayList<>();
            for (int i = 0; i < queries.length; i++) {
                if (queryHeads == null || config.indexesPerKvHead() == 1 || queryHeads[i] % group == g) {
                    mine.add(copies[i]);
                }
            }
            if (built != null) {
                if (!mine.isEmpty()) { // a built index learns from later queries online
                    ((AttentionAwareIndex) built[g]).addQueries(mine.toArray(new float[0][]), scorer);
                }
            } else {
                trainingQueries.get(g).addAll(mine);
                if (policy == null) { // an automatic choice to make (one index per KV head): where each query attended
                    for (int i = 0; i < queries.length; i++) {
                        trainingPositions.add(Math.max(0, tokens == 0 ? from - 1 : from + (int) ((long) i * tokens / queries.length)));
                    }
                }
            }
        }
    }

    /** Training queries held (a query that trains several indexes is one array, counted once). */
    private long trainingQueryCount() {
        if (trainingQueries.size() == 1) {
            return trainingQueries.getFirst().size();
        }
        Set<float[]> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        for (List<float[]> l : trainingQueries) {
            distinct.addAll(l);
        }
        return distinct.size();
    }

    // ------------------------------------------------------------------ answers

    /**
     * Attention of {@code query} (of query head {@code queryHead}): through the policy head once open; else the static
     * set exactly, merged with the top-k keys the index retrieves within {@code budget}; exactly over every key while
     * there is no index.
     */
    AttendResult answer(int queryHead, float[] query, int k, int budget) {
        long start = System.nanoTime();
        PolicyHead p = policyHead;
        if (p != null) {
            PolicyAnswer a;
            synchronized (this) { // a policy head is not thread-safe: its answers and appends take turns
                a = p.attend(query, budget);
            }
            return new AttendResult(a.output(), a.logSumExp(), a.selected(), new AttendStats(policy.spec(), a.keysScanned(),
                    a.staticKeys(), a.selected().length, micros(start)));
        }
        // Snapshot: the index covers [sinks, upTo) and the stores at least [0, n).
        int upTo = indexedUpTo;
        VectorIndex[] built = indexes;
        VectorIndex index = built == null ? null : built[built.length > 1 ? queryHead % config.queryHeadsPerKvHead() : 0];
        int n = size();
        if (index == null || upTo <= config.sinkTokens()) {
            return exact(query, n, start);
        }
        int sinks = Math.min(config.sinkTokens(), n);
        int[] staticSet = PolicyHead.staticSet(sinks, upTo, n);
        SearchResult found = index.search(query, k, budget);
        int[] retrieved = new int[found.ids().length];
        int count = 0;
        for (long position : found.ids()) {
            if (position >= sinks && position < upTo) {
                retrieved[count++] = (int) position;
            }
        }
        retrieved = Arrays.copyOf(retrieved, count);
        LogSumExpMerge merge = new LogSumExpMerge(config.headDim());
        merge.addExact(scorer, query, keys, values, staticSet, config.scale());
        merge.addExact(scorer, query, keys, values, retrieved, config.scale());
        return new AttendResult(merge.output(), merge.logSumExp(), retrieved, new AttendStats("index",
                staticSet.length + found.stats().distanceComputations(), staticSet.length, count, micros(start)));
    }

    /** Exact attention over every key held (the reference for accuracy); a streaming head has none to compare with. */
    AttendResult answerExact(float[] query) {
        if (policyHead != null && policy instanceof HeadPolicy.Streaming) {
            throw new IllegalStateException("it streams: it dropped its tokens outside sinks + window, so there is no full attention"
                    + " to compare with");
        }
        return exact(query, size(), System.nanoTime());
    }

    private AttendResult exact(float[] query, int n, long start) {
        AttentionOutput all = scorer.attend(query, keys, values, PolicyHead.staticSet(n, n, n), config.scale());
        return new AttendResult(all.output(), all.logSumExp(), new int[0], new AttendStats("flat", n, n, 0, micros(start)));
    }

    private static long micros(long start) {
        return (System.nanoTime() - start) / 1000;
    }

    // ------------------------------------------------------------------ indexes and policy heads

    /** Starts what is due: the index build of a built-in retrieval head, or the opening of its policy head. */
    void startDueWork() {
        if (!builtInRetrieval()) {
            maybeOpenPolicyHead();
            return;
        }
        int from = config.sinkTokens();
        int to;
        float[][][] queries; // per index
        int count = config.indexesPerKvHead();
        synchronized (this) {
            to = size() - config.windowTokens();
            if (indexes != null || building || to <= from || buildFailure != null) {
                return;
            }
            building = true;
            queries = new float[count][][];
            for (int g = 0; g < count; g++) {
                queries[g] = trainingQueries.get(g).toArray(new float[0][]);
            }
            buildDone = 0;
            buildTotal = 0;
        }
        int end = to;
        builds.execute(() -> {
            try {
                VectorIndex[] built = new VectorIndex[count];
                for (int g = 0; g < count; g++) {
                    int before = g; // the progress of the indexes already built
                    built[g] = switch (config.retriever()) {
                        // Over the head's own key rows: the index holds no copy of them.
                        case ATTENTION_AWARE -> AttentionAwareIndex.build(config.indexParams(), keys, from, end, queries[g], scorer,
                                (done, total) -> {
                                    buildDone = before * total + done;
                                    buildTotal = count * total;
                                });
                        case HNSW -> buildHnsw(from, end);
                    };
                }
                // The tokens that left the window during the build go in before the indexes are published: most
                // of them outside the lock, the last few under it, so that "ready" means caught up.
                int upTo = insertLeftWindow(built, end);
                synchronized (this) {
                    indexedUpTo = insertLeftWindow(built, upTo); // before the indexes: a reader that sees them sees their range
                    indexes = built;
                    building = false;
                    // Queries prefilled during the build, then none kept: the indexes hold what they learnt.
                    for (int g = 0; g < count; g++) {
                        List<float[]> all = trainingQueries.get(g);
                        List<float[]> later = all.subList(queries[g].length, all.size());
                        if (!later.isEmpty() && built[g] instanceof AttentionAwareIndex aware) {
                            aware.addQueries(later.toArray(new float[0][]), scorer);
                        }
                        all.clear();
                    }
                    trainingPositions.clear(); // an automatic choice of retrieval measured them already
                }
            } catch (Throwable t) {
                synchronized (this) {
                    buildFailure = t;
                    building = false;
                }
            }
        });
    }

    /**
     * Once a head under another policy than the built-in retrieval has tokens outside its static set (its prefill
     * ended, or it was appended to), opens its {@link PolicyHead} over its stores on the build executor: for
     * {@code auto} the policy is chosen first (a choice of retrieval goes to the built-in index instead). A head that
     * builds an index opens outside the head's monitor, then takes the tokens appended meanwhile under it; the others
     * open under it (they only summarise or drop tokens).
     */
    private void maybeOpenPolicyHead() {
        int n;
        float[][] queries;
        int[] positions;
        synchronized (this) {
            n = size();
            if (policyHead != null || building || buildFailure != null || n - config.windowTokens() <= config.sinkTokens()) {
                return;
            }
            building = true;
            queries = trainingQueries.getFirst().toArray(new float[0][]);
            positions = trainingPositions.stream().mapToInt(Integer::intValue).toArray();
        }
        builds.execute(() -> {
            try {
                HeadPolicy chosen = policy;
                if (chosen == null) {
                    float[][] rows = new float[n][];
                    for (int i = 0; i < n; i++) {
                        rows[i] = keys.row(i);
                    }
                    PolicyChooser.Choice c = PolicyChooser.choose(rows, queries, positions, config.scale(), config.sinkTokens(),
                            config.windowTokens(), config.topK(), HeadPolicies.autoMass(configuredPolicy));
                    synchronized (this) {
                        choice = c;
                        policy = c.policy();
                        if (builtInRetrieval()) {
                            building = false;
                        }
                    }
                    chosen = c.policy();
                    if (builtInRetrieval()) {
                        startDueWork();
                        return;
                    }
                }
                PolicyHead opened = chosen.buildsIndex()
                        ? PolicyHead.over(chosen, keys, values, n, queries, config.scale(), scorer, config.indexParams()) : null;
                synchronized (this) {
                    PolicyHead head = opened != null ? opened
                            : PolicyHead.over(chosen, keys, values, keys.size(), queries, config.scale(), scorer, config.indexParams());
                    while (head.tokens() < keys.size()) {
                        head.appended();
                    }
                    policyHead = head;
                    keys = head.keys();
                    values = head.values();
                    building = false;
                    trainingQueries.forEach(List::clear);
                    trainingPositions.clear();
                }
            } catch (Throwable t) {
                synchronized (this) {
                    buildFailure = t;
                    building = false;
                }
            }
        });
    }

    /** HNSW over the keys, inserted in slices so that the build reports progress. */
    private VectorIndex buildHnsw(int first, int end) {
        long[] ids = new long[end - first];
        float[][] rows = new float[end - first][];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = first + i;
            rows[i] = keys.row(first + i);
        }
        VectorIndex index = VectorIndexes.create(IndexKind.HNSWLIB, config.headDim(), Similarity.DOT_PRODUCT,
                VectorIndexes.Options.defaults().withExpectedSize(Math.max(1024, rows.length + config.windowTokens())));
        buildTotal = rows.length;
        int slice = 16_384;
        for (int from = 0; from < rows.length; from += slice) {
            int to = Math.min(rows.length, from + slice);
            index.addAll(Arrays.copyOfRange(ids, from, to), Arrays.copyOfRange(rows, from, to));
            buildDone = to;
        }
        return index;
    }

    /**
     * Inserts into {@code built} the tokens from {@code from} up to those that left the window, raising
     * {@link #indexedUpTo} after each when the indexes are published; returns where it stopped.
     */
    private int insertLeftWindow(VectorIndex[] built, int from) {
        int next = Math.max(from, config.sinkTokens());
        for (; next < size() - config.windowTokens(); next++) {
            float[] key = null;
            for (VectorIndex index : built) {
                if (index instanceof AttentionAwareIndex aware) {
                    aware.addStoredRows(next + 1); // reads the key where the head keeps it
                } else {
                    index.add(next, key != null ? key : (key = keys.row(next)));
                }
            }
            if (indexes == built) {
                indexedUpTo = next + 1;
            }
        }
        return next;
    }

    /** Queues the insertion of the tokens that left the window, unless one is queued already. */
    void scheduleIndexing() {
        if (indexes != null && indexedUpTo < size() - config.windowTokens() && indexingQueued.compareAndSet(false, true)) {
            indexer.execute(() -> {
                indexingQueued.set(false);
                indexPending();
            });
        }
    }

    /**
     * Moves the tokens that left the window into every index, one at a time, raising {@link #indexedUpTo} after each.
     * Holds {@link #indexing}, not this object's monitor: appends and attends go on meanwhile.
     */
    private void indexPending() {
        synchronized (indexing) {
            try {
                VectorIndex[] built = indexes;
                if (built != null) {
                    insertLeftWindow(built, indexedUpTo);
                }
            } catch (RuntimeException e) {
                // The session closed under the task, or an index refused the key: the key stays in the static set,
                // attended exactly; the state says why.
                buildFailure = e;
            }
        }
    }

    // ------------------------------------------------------------------ reports

    /** The state of the head's index (under this object's monitor: a finished build has also taken the tokens that left the window). */
    synchronized KvSession.IndexState indexState() {
        VectorIndex[] built = indexes;
        PolicyHead p = policyHead;
        String state = buildFailure != null ? "failed: " + buildFailure : built != null || p != null ? "ready" : building ? "building" : "none";
        return new KvSession.IndexState(state, built == null ? 0 : built[0].size(), indexedUpTo, size(), buildDone, buildTotal,
                indexBytes());
    }

    synchronized KvSession.PolicyState policyState() {
        HeadPolicy followed = policy;
        PolicyChooser.Choice c = choice;
        PolicyHead p = policyHead;
        return new KvSession.PolicyState(configuredPolicy, followed == null ? null : followed.spec(),
                c == null ? null : new KvSession.Measured(c.massOutsideMean(), c.massOutsideMax(), c.topKShare(), c.queriesMeasured()),
                keys.bytes() + values.bytes(), indexBytes(), p == null ? 0 : p.searches(), p == null ? 0 : p.reuses(),
                p == null || Double.isNaN(p.recycleThreshold()) ? null : p.recycleThreshold());
    }

    /** Bytes of its indexes (or a policy head's blocks, clusters or index). */
    private long indexBytes() {
        long bytes = 0;
        for (VectorIndex index : indexes == null ? new VectorIndex[0] : indexes) {
            bytes += index.memoryBytes();
        }
        PolicyHead p = policyHead;
        return bytes + (p == null ? 0 : p.indexBytes());
    }

    /** Bytes held: bookkeeping, keys and values, prefill queries kept ({@code queryBytes} each) and indexes. */
    long memoryBytes(long queryBytes) {
        long bytes = KvSessionLimits.HEAD_OVERHEAD_BYTES + keys.bytes() + values.bytes();
        synchronized (this) {
            bytes += queryBytes * trainingQueryCount();
        }
        return bytes + indexBytes();
    }

    /** Frees the indexes. */
    void close() {
        for (VectorIndex index : indexes == null ? new VectorIndex[0] : indexes) {
            index.close();
        }
    }
}
