package dev.attend.retrieval;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorStore;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.policy.HeadPolicy;
import dev.attend.retrieval.policy.IndexSettings;
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
 * One KV head of a {@link KvSession}: its keys and values, and the {@link PolicyHead} that answers for it. Until its
 * prefill ends it answers exactly over every key and keeps the prefill's queries; then its policy's head opens on
 * the build executor (for {@code auto}, once the policy is chosen from the prefill), over the head's own stores,
 * catches up with the tokens appended meanwhile and takes over. How any head retrieves is the policy layer's affair:
 * a retrieval head ({@link HeadPolicy.Retrieval}, with the session's {@link IndexSettings}) answers concurrently and
 * inserts the tokens that leave the window on the {@code indexer} executor, off the append's path
 * ({@link PolicyHead#catchUp}); the others take turns under this object's monitor, and {@link #keys}/{@link #values}
 * follow their stores (a streaming head replaces them as it drops tokens). Writers hold this object's monitor.
 */
final class SessionHead {

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
    /** The head that answers once opened (null before). */
    private volatile PolicyHead policyHead;
    private volatile boolean building;
    /** Work done so far by a running build (training queries projected, or keys inserted), and the total. */
    private volatile int buildDone;
    private volatile int buildTotal;
    private volatile Throwable buildFailure;
    /** Whether the head's bookkeeping is charged to its session's limits (at its first write); under this object's monitor. */
    private boolean charged;
    /** Whether a catch-up task is queued and has not started yet (appends then need not queue another). */
    private final AtomicBoolean indexingQueued = new AtomicBoolean();

    SessionHead(KvSessionConfig config, Scorer scorer, Executor builds, Executor indexer, String configuredPolicy, HeadPolicy policy) {
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

    /** Whether a prefill's queries would be kept now (for the head to open with); under this object's monitor. */
    boolean keepsQueries() {
        return config.retriever() == KvSessionConfig.Retriever.ATTENTION_AWARE && policyHead == null;
    }

    /** Prefill queries this head was given before it opened (kept or not): the numbering of {@link #keptQueries}. */
    private long queriesSeen;

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
     * Which of a prefill chunk's queries the head keeps for its build (under this object's monitor; changes nothing):
     * a build projects {@link AttentionAwareIndex.Params#trainingQueriesPerKey()} per key, so about that share of
     * each index's queries per token, with a quarter more for the build to space them evenly, is kept and the rest
     * dropped at once instead of held until the prefill ends (with four query heads per KV head a prefill's queries
     * take four times its float16 KV). Chosen by a hash of the query's number in the head's prefill: the same queries
     * on every replay of a journal, and spread over the query heads whatever their order in a chunk.
     */
    boolean[] keptQueries(int tokens, float[][] queries, int[] queryHeads) {
        boolean[] keep = new boolean[queries.length];
        double perKey = config.indexParams().trainingQueriesPerKey();
        int count = config.indexesPerKvHead();
        int group = config.queryHeadsPerKvHead();
        boolean split = queryHeads != null && count > 1;
        int[] perIndex = new int[count];
        for (int i = 0; i < queries.length; i++) {
            perIndex[split ? queryHeads[i] % group : 0]++;
        }
        for (int i = 0; i < queries.length; i++) {
            int m = perIndex[split ? queryHeads[i] % group : 0];
            double share = perKey == 0 || tokens == 0 ? 1 : Math.min(1, KEPT_HEADROOM * perKey * tokens / m);
            keep[i] = share >= 1 || unitHash(queriesSeen + i) < share;
        }
        return keep;
    }

    /** How many more queries than a build projects are kept, so that the build can still space its choice evenly. */
    private static final double KEPT_HEADROOM = 1.25;

    /** A number in [0, 1) from {@code n} (SplitMix64's finaliser): which prefill queries are kept. */
    private static double unitHash(long n) {
        long z = n * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (z >>> 11) * 0x1.0p-53;
    }

    /**
     * Takes a prefill chunk's queries (under this object's monitor, after its {@code tokens} keys from {@code from}):
     * those {@code kept} ({@link #keptQueries}) for the head to open with, or all of them handed to the open head (a
     * retrieval head's indexes learn from them).
     */
    void takeQueries(int from, int tokens, float[][] queries, int[] queryHeads, boolean[] kept) {
        if (config.retriever() != KvSessionConfig.Retriever.ATTENTION_AWARE || queries.length == 0) {
            return;
        }
        PolicyHead p = policyHead;
        if (p != null) {
            p.learn(perIndex(queries, queryHeads, null));
            return;
        }
        float[][][] perIndex = perIndex(queries, queryHeads, kept);
        queriesSeen += queries.length;
        for (int g = 0; g < perIndex.length; g++) {
            trainingQueries.get(g).addAll(Arrays.asList(perIndex[g]));
        }
        if (policy == null) { // an automatic choice to make (one index per KV head): where each kept query attended
            for (int i = 0; i < queries.length; i++) {
                if (kept[i]) {
                    trainingPositions.add(Math.max(0, tokens == 0 ? from - 1 : from + (int) ((long) i * tokens / queries.length)));
                }
            }
        }
    }

    /**
     * The queries each index trains on (with an index per query head, each its own head's), those {@code kept} only
     * (every one when null); one copy per query, shared.
     */
    private float[][][] perIndex(float[][] queries, int[] queryHeads, boolean[] kept) {
        int count = config.indexesPerKvHead();
        int group = config.queryHeadsPerKvHead();
        float[][] copies = new float[queries.length][];
        for (int i = 0; i < queries.length; i++) {
            copies[i] = kept == null || kept[i] ? queries[i].clone() : null;
        }
        float[][][] out = new float[count][][];
        for (int g = 0; g < count; g++) {
            List<float[]> mine = new ArrayList<>();
            for (int i = 0; i < queries.length; i++) {
                if (copies[i] != null && (queryHeads == null || count == 1 || queryHeads[i] % group == g)) {
                    mine.add(copies[i]);
                }
            }
            out[g] = mine.toArray(new float[0][]);
        }
        return out;
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
     * Attention of {@code query} (of query head {@code queryHead}) retrieving {@code k} keys within {@code budget}:
     * through the policy head once open, exactly over every key before ({@link AttendStats#mode()} {@code "flat"}).
     */
    AttendResult answer(int queryHead, float[] query, int k, int budget) {
        long start = System.nanoTime();
        PolicyHead p = policyHead;
        if (p == null) {
            return exact(query, size(), start);
        }
        int group = config.indexesPerKvHead() > 1 ? queryHead % config.queryHeadsPerKvHead() : 0;
        PolicyAnswer a;
        if (p.concurrentReads()) {
            a = p.attend(query, group, k, budget);
        } else {
            synchronized (this) { // its answers and appends take turns
                a = p.attend(query, group, k, budget);
            }
        }
        // The built-in retrieval's answers say "index" on the wire, as they always have.
        String mode = policy instanceof HeadPolicy.Retrieval ? "index" : policy.spec();
        return new AttendResult(a.output(), a.logSumExp(), a.selected(), new AttendStats(mode, a.keysScanned(), a.staticKeys(),
                a.selected().length, micros(start)));
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

    /**
     * Once the head has tokens outside its static set (its prefill ended, or it was appended to), opens its
     * {@link PolicyHead} over its stores on the build executor: for {@code auto} the policy is chosen first. A head that
     * builds an index opens outside this object's monitor and catches up with the tokens appended meanwhile, most of
     * them outside it and the last few under it, so that "ready" means caught up; the others open under it (they only
     * summarise or drop tokens). Queries prefilled during the build go to the open head.
     */
    void startDueWork() {
        int n;
        float[][][] queries;
        int[] positions;
        synchronized (this) {
            n = size();
            if (policyHead != null || building || buildFailure != null || n - config.windowTokens() <= config.sinkTokens()) {
                return;
            }
            building = true;
            queries = new float[trainingQueries.size()][][];
            for (int g = 0; g < queries.length; g++) {
                queries[g] = trainingQueries.get(g).toArray(new float[0][]);
            }
            positions = trainingPositions.stream().mapToInt(Integer::intValue).toArray();
            buildDone = 0;
            buildTotal = 0;
        }
        builds.execute(() -> {
            try {
                HeadPolicy chosen = policy;
                if (chosen == null) {
                    chosen = choose(n, queries[0], positions);
                }
                IndexSettings settings = new IndexSettings(config.indexParams(), config.retriever() == KvSessionConfig.Retriever.HNSW,
                        config.indexesPerKvHead(), true);
                PolicyHead.BuildProgress progress = (done, total) -> {
                    buildDone = done;
                    buildTotal = total;
                };
                PolicyHead opened = null;
                if (chosen.buildsIndex()) {
                    opened = PolicyHead.over(chosen, keys, values, n, queries, config.scale(), scorer, settings, progress);
                    catchUp(opened);
                }
                synchronized (this) {
                    PolicyHead head = opened != null ? opened
                            : PolicyHead.over(chosen, keys, values, keys.size(), queries, config.scale(), scorer, settings, progress);
                    catchUp(head);
                    float[][][] later = new float[queries.length][][];
                    for (int g = 0; g < later.length; g++) {
                        List<float[]> all = trainingQueries.get(g);
                        later[g] = all.subList(queries[g].length, all.size()).toArray(new float[0][]);
                    }
                    head.learn(later);
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

    /** Chooses the policy of an {@code auto} head from its first {@code n} tokens and its prefill queries. */
    private HeadPolicy choose(int n, float[][] queries, int[] positions) {
        float[][] rows = new float[n][];
        for (int i = 0; i < n; i++) {
            rows[i] = keys.row(i);
        }
        PolicyChooser.Choice c = PolicyChooser.choose(rows, queries, positions, config.scale(), config.sinkTokens(), config.windowTokens(),
                config.topK(), HeadPolicies.autoMass(configuredPolicy));
        synchronized (this) {
            choice = c;
            policy = c.policy();
        }
        return c.policy();
    }

    /** Has {@code head} take the tokens appended to the stores since it opened, and do the work they deferred. */
    private void catchUp(PolicyHead head) {
        while (head.tokens() < keys.size()) {
            head.appended();
        }
        head.catchUp();
    }

    /** Queues the open head's deferred work (index insertions), unless it is queued already. */
    void scheduleIndexing() {
        PolicyHead p = policyHead;
        if (p != null && p.catchUpDue() && indexingQueued.compareAndSet(false, true)) {
            indexer.execute(() -> {
                indexingQueued.set(false);
                try {
                    p.catchUp();
                } catch (RuntimeException e) {
                    // The session closed under the task, or an index refused the key: the key stays in the static set,
                    // attended exactly; the state says why.
                    buildFailure = e;
                }
            });
        }
    }

    // ------------------------------------------------------------------ reports

    /** The state of the head's index (under this object's monitor: a finished build has also taken the tokens that left the window). */
    synchronized KvSession.IndexState indexState() {
        PolicyHead p = policyHead;
        String state = buildFailure != null ? "failed: " + buildFailure : p != null ? "ready" : building ? "building" : "none";
        return new KvSession.IndexState(state, p == null ? 0 : p.indexedKeys(), p == null ? 0 : p.indexedUpTo(), size(), buildDone,
                buildTotal, indexBytes());
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

    /** Bytes of its policy head's indexes, blocks or clusters. */
    private long indexBytes() {
        PolicyHead p = policyHead;
        return p == null ? 0 : p.indexBytes();
    }

    /** Bytes held: bookkeeping, keys and values, prefill queries kept ({@code queryBytes} each) and indexes. */
    long memoryBytes(long queryBytes) {
        long bytes = KvSessionLimits.HEAD_OVERHEAD_BYTES + keys.bytes() + values.bytes();
        synchronized (this) {
            bytes += queryBytes * trainingQueryCount();
        }
        return bytes + indexBytes();
    }

    /** Frees the policy head's indexes. */
    void close() {
        PolicyHead p = policyHead;
        if (p != null) {
            p.close();
        }
    }
}
