package dev.attend.retrieval;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorChecks;
import dev.attend.gpu.Precision;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.index.store.ResourceId;
import dev.attend.index.store.StorageErrors;
import dev.attend.retrieval.internals.KvJournal;
import dev.attend.retrieval.policy.AttentionAccuracy;
import dev.attend.retrieval.policy.HeadPolicy;
import dev.attend.retrieval.policy.PolicyChooser;
import dev.attend.retrieval.policy.PolicyHead;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The offloaded KV cache of one sequence: keys and values per layer and KV head, and for each KV head
 * an index over the tokens outside the static set: an {@link AttentionAwareIndex} trained on the prefill
 * queries of the query heads that share it, or, as the baseline, HNSW over the keys alone
 * ({@link KvSessionConfig.Retriever}). One index per KV head serves all its query heads; with
 * {@link KvSessionConfig#indexPerQueryHead()} each query head has its own, trained on its own queries.
 *
 * <p>{@link #attend} answers one decode query with exact attention over the static set (the first
 * {@code S} tokens, the last {@code W}, and any token that left the window before the index could take
 * it) merged through log-sum-exp with exact attention over the top-k keys the index retrieves. Until a
 * head's index is built (in the background, on the executor given) it answers exactly over every key
 * and says so ({@link AttendStats#mode()} {@code "flat"}).
 *
 * <p>{@link #append} adds a decoded token: it enters the window, and the token that leaves the window
 * enters the index online, on the {@code indexer} executor (off the append's path: until it is in, it is
 * attended exactly with the static set). Positions are checked: each append must be the next position.
 *
 * <p>Each KV head follows a policy ({@link KvSessionConfig#policies()}): the built-in retrieval above, or another
 * {@link HeadPolicy} (full, streaming, recycled, block, retrieval+tail), or {@code auto}, chosen from the head's
 * prefill ({@link PolicyChooser}). A head under another policy answers exactly until its prefill ends (the build
 * trigger above); then a {@link PolicyHead} takes over its stores (on the build executor), and every later append
 * and answer of the head goes through it, one at a time. Prefill queries count for the automatic choice at
 * positions spread evenly over their chunk's tokens (query i of m in a chunk of n tokens from p: p + i n / m),
 * which is where they are when a chunk carries one query per token and query head, in token order.
 */
public final class KvSession implements AutoCloseable {

    private final String id;
    private final KvSessionConfig config;
    private final Scorer scorer;
    private final Executor builds;
    private final Executor indexer;
    /** The state of each KV head ({@code layer * kvHeads + kvHead}), made at its first write: a declared shape costs nothing until written. */
    private final AtomicReferenceArray<KvHead> heads;
    private final KvSessionLimits limits;
    /** The store's total over every session, or null outside a store. */
    private final Budget budget;
    /** Bytes charged to this session ({@link KvSessionLimits}): its fixed part and every token and query written. */
    private final AtomicLong charged = new AtomicLong();
    /**
     * The largest score {@code scale q.k} a session lets happen: keys and queries are refused (before anything changes)
     * when their norm passes {@link #maxNorm()}, so that {@code |scale q.k| <= scale |q| |k| <= MAX_SCORE}. float32
     * attention subtracts the largest score before its exponentials; at 1e9 the rounding step of a score is 64, so the
     * largest weight is still at least e^-32 and the answer finite (at 1e18 the step is 1e11, every weight underflows to
     * zero and the answer is NaN). Real models' scores are in the tens.
     */
    public static final double MAX_SCORE = 1e9;
    /** The largest magnitude a value component may have (float16 storage: 65504, what float16 holds). */
    public static final double MAX_ABS_VALUE = 1e9;
    /** The largest magnitude float16 storage holds. */
    private static final float FLOAT16_MAX = 65504f;

    /** What a store charges all its sessions together against ({@link KvSessionLimits#maxTotalBytes()}). */
    interface Budget {
        /** Takes {@code bytes} from the store's total; false (and nothing taken) when that would pass the limit. */
        boolean reserve(long bytes);

        void release(long bytes);
    }
    /** Write-ahead log of prefills and appends, when the session is durable ({@link KvSessionStore}). */
    private volatile KvJournal journal;
    private volatile boolean buildsHeld;
    /** The latest decode queries answered per layer (in memory only): what {@link #recentQueries} gives an accuracy check. */
    private final ArrayDeque<HeadQuery>[] recent;
    /** How many recent queries a layer keeps. */
    public static final int RECENT_QUERIES = 32;

    /** A session whose index builds and insertions both run on {@code builds}. */
    public KvSession(String id, KvSessionConfig config, Scorer scorer, Executor builds) {
        this(id, config, scorer, builds, builds);
    }

    /**
     * @param scorer  scores the exact parts and the index builds' training queries (not closed here)
     * @param builds  runs index builds (a session answers exactly until they finish)
     * @param indexer inserts the keys that leave the window into the built indexes (short tasks; give it a
     *                thread that long builds do not hold, or insertions wait for them)
     */
    public KvSession(String id, KvSessionConfig config, Scorer scorer, Executor builds, Executor indexer) {
        this(id, config, scorer, builds, indexer, KvSessionLimits.shapeOnly());
    }

    /**
     * The same under {@code limits}: a shape over them is an {@link IllegalArgumentException} (nothing allocated), and a
     * prefill or append that would pass their token or byte limits a {@link KvLimitException} (nothing changed).
     */
    public KvSession(String id, KvSessionConfig config, Scorer scorer, Executor builds, Executor indexer, KvSessionLimits limits) {
        this(id, config, scorer, builds, indexer, limits, null);
    }

    KvSession(String id, KvSessionConfig config, Scorer scorer, Executor builds, Executor indexer, KvSessionLimits limits,
              Budget budget) {
        this.id = Objects.requireNonNull(id, "id");
        this.config = Objects.requireNonNull(config, "config").checked();
        this.limits = Objects.requireNonNull(limits, "limits");
        limits.check(config);
        this.scorer = Objects.requireNonNull(scorer, "scorer");
        this.builds = Objects.requireNonNull(builds, "builds");
        this.indexer = Objects.requireNonNull(indexer, "indexer");
        this.budget = budget;
        long fixed = KvSessionLimits.fixedBytes(config);
        if (budget != null && !budget.reserve(fixed)) {
            throw new KvLimitException(KvLimitException.Scope.STORE, KvSessionLimits.KEY_MAX_TOTAL_BYTES, limits.maxTotalBytes(),
                    "the KV sessions held are too large to open another of " + fixed + " bytes");
        }
        charged.set(fixed);
        this.heads = new AtomicReferenceArray<>(config.layers() * config.kvHeads());
        @SuppressWarnings("unchecked")
        ArrayDeque<HeadQuery>[] r = new ArrayDeque[config.layers()];
        for (int l = 0; l < r.length; l++) {
            r[l] = new ArrayDeque<>();
        }
        this.recent = r;
    }

    /** A KV head's state as it would be made (for a head not written yet, not kept). */
    private KvHead newHead(int layer, int kvHead) {
        String name = config.policies().nameOf(layer, kvHead);
        HeadPolicy policy = HeadPolicies.isAuto(name) ? null : HeadPolicies.resolve(name, config);
        return new KvHead(config, scorer, builds, indexer, name, policy);
    }

    /** The heads written so far. */
    private List<KvHead> madeHeads() {
        List<KvHead> out = new ArrayList<>();
        for (int i = 0; i < heads.length(); i++) {
            KvHead h = heads.get(i);
            if (h != null) {
                out.add(h);
            }
        }
        return out;
    }

    public String id() {
        return id;
    }

    public KvSessionConfig config() {
        return config;
    }

    /** Tokens stored for a KV head. */
    public int length(int layer, int kvHead) {
        KvHead h = existing(layer, kvHead);
        return h == null ? 0 : h.size();
    }

    /**
     * Bulk-loads tokens {@code [length, length + keys.length)} of a KV head with the prefill queries of
     * its query heads (any number, in any order: they train the index), then starts the index build
     * when there are tokens outside the static set. Everything is checked before anything is stored.
     */
    public void prefill(int layer, int kvHead, int fromPosition, float[][] keys, float[][] values, float[][] queries) {
        prefill(layer, kvHead, fromPosition, keys, values, queries, null, false);
    }

    /**
     * The same; with {@code more}, further prefill chunks of this head follow and the index build waits for
     * the last one (or the first append): one build over the whole prefill instead of a build over the first
     * chunk and every later key inserted online, which is slower and no better.
     */
    public void prefill(int layer, int kvHead, int fromPosition, float[][] keys, float[][] values, float[][] queries,
                        boolean more) {
        prefill(layer, kvHead, fromPosition, keys, values, queries, null, more);
    }

    /**
     * The same, with the query head of each query ({@code queryHeads[i]}, a head reading this KV head): with
     * an index per query head, each index trains on its own head's queries. Without {@code queryHeads}
     * (null) every query trains every index of the KV head.
     */
    public void prefill(int layer, int kvHead, int fromPosition, float[][] keys, float[][] values, float[][] queries,
                        int[] queryHeads, boolean more) {
        existing(layer, kvHead); // checks the layer and head
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(queries, "queries");
        if (keys.length != values.length) {
            throw new IllegalArgumentException(keys.length + " keys but " + values.length + " values");
        }
        int d = config.headDim();
        for (int i = 0; i < keys.length; i++) {
            checkStored("key " + i, keys[i]);
            checkStored("value " + i, values[i]);
        }
        for (int i = 0; i < queries.length; i++) {
            checkQuery("query " + i, queries[i]);
        }
        int group = config.queryHeadsPerKvHead();
        if (queryHeads != null) {
            if (queryHeads.length != queries.length) {
                throw new IllegalArgumentException(queries.length + " queries but " + queryHeads.length + " query heads");
            }
            for (int i = 0; i < queryHeads.length; i++) {
                if (queryHeads[i] / group != kvHead || queryHeads[i] < 0) {
                    throw new IllegalArgumentException("query " + i + " names query head " + queryHeads[i] + ", which does not read KV head "
                            + kvHead + " (its query heads are [" + kvHead * group + ", " + (kvHead + 1) * group + "))");
                }
            }
        }
        KvHead h = forWrite(layer, kvHead);
        synchronized (h) {
            checkPosition(h, fromPosition);
            long bytes = charge(h, fromPosition, keys.length, h.keepsQueries() ? queries.length : 0);
            log(j -> j.prefill(layer, kvHead, fromPosition, keys, values, queries, queryHeads), bytes);
            h.markCharged();
            for (int i = 0; i < keys.length; i++) {
                h.hold(keys[i], values[i]);
            }
            h.takeQueries(fromPosition, keys.length, queries, queryHeads);
        }
        h.scheduleIndexing();
        if (!more) {
            startDueWork(h);
        }
    }

    /** Appends the token at {@code position} (which must be the next one) to a KV head. */
    public void append(int layer, int kvHead, int position, float[] key, float[] value) {
        existing(layer, kvHead); // checks the layer and head
        checkStored("key", key);
        checkStored("value", value);
        KvHead h = forWrite(layer, kvHead);
        synchronized (h) {
            checkPosition(h, position);
            long bytes = charge(h, position, 1, 0);
            log(j -> j.append(layer, kvHead, position, key, value), bytes);
            h.markCharged();
            h.hold(key, value);
        }
        h.scheduleIndexing();
        startDueWork(h);
    }

    /** {@link #decodeLayer}'s budget that asks for {@link KvSessionConfig#defaultBudget} of each head's length after the append. */
    public static final int DEFAULT_BUDGET = 0;

    /**
     * One decode step of a whole layer: appends {@code keys[h]} and {@code values[h]} at {@code position} to every KV head
     * {@code h} of {@code layer}, then answers {@code queries[q]} for every query head {@code q} of the layer (query-head
     * order, {@code kvHeads * queryHeadsPerKvHead} of them), in parallel over the cores. The same answers as
     * {@link #append} for each KV head followed by {@link #attend} for each query head, and the queries are recorded as
     * {@link #recentQueries} the same way.
     *
     * <p>Everything is checked before anything changes: the number of keys, values and queries, every vector (dimension,
     * finite, norms as {@link #append} and {@link #attend} check them), the budget, and every head's next position (under
     * the monitors of all the layer's KV heads, taken in order). Bad input is an {@link IllegalArgumentException} and no
     * head is appended to; a limit a {@link KvLimitException}, nothing appended either. Each head's append is journaled
     * before it is applied, one head after the other: a journal that fails (I/O) at a head leaves the heads before it
     * appended, and says so.
     *
     * @param budget distance computations per query ({@code >= 1}), or {@link #DEFAULT_BUDGET}
     * @return the answer of each query head, in query-head order
     */
    public AttendResult[] decodeLayer(int layer, int position, float[][] keys, float[][] values, float[][] queries, int budget) {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException("layer " + layer + " is not in [0, " + config.layers() + ")");
        }
        int kvHeads = config.kvHeads();
        int queryHeads = config.queryHeads();
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(queries, "queries");
        if (keys.length != kvHeads || values.length != kvHeads) {
            throw new IllegalArgumentException("a layer step takes one key and one value per KV head: " + kvHeads + " of each, got "
                    + keys.length + " keys and " + values.length + " values");
        }
        if (queries.length != queryHeads) {
            throw new IllegalArgumentException("a layer step takes one query per query head: " + queryHeads + ", got " + queries.length);
        }
        if (budget < 0) {
            throw new IllegalArgumentException("budget must be >= 1 (or " + DEFAULT_BUDGET + ": the default), got " + budget);
        }
        for (int h = 0; h < kvHeads; h++) {
            checkStored("key of KV head " + h, keys[h]);
            checkStored("value of KV head " + h, values[h]);
        }
        for (int q = 0; q < queryHeads; q++) {
            checkQuery("query of query head " + q, queries[q]);
        }
        KvHead[] hs = new KvHead[kvHeads];
        for (int h = 0; h < kvHeads; h++) {
            hs[h] = forWrite(layer, h);
        }
        appendAll(layer, position, keys, values, hs, 0, new long[kvHeads]);
        for (KvHead h : hs) {
            h.scheduleIndexing();
            startDueWork(h);
        }
        AttendResult[] results = new AttendResult[queryHeads];
        answerAll(layer, queries, budget, results);
        ArrayDeque<HeadQuery> seen = recent[layer];
        synchronized (seen) {
            for (int q = 0; q < queryHeads; q++) {
                if (seen.size() == RECENT_QUERIES) {
                    seen.removeFirst();
                }
                seen.addLast(new HeadQuery(q, queries[q].clone()));
            }
        }
        return results;
    }

    /**
     * Takes the monitors of {@code hs[from..]} in order (nested), then, holding all of them: checks every head's position,
     * charges every head (giving back what was charged when one is refused), journals the layer's tokens as one record and
     * stores each head's token.
     */
    private void appendAll(int layer, int position, float[][] keys, float[][] values, KvHead[] hs, int from, long[] bytes) {
        if (from < hs.length) {
            synchronized (hs[from]) {
                appendAll(layer, position, keys, values, hs, from + 1, bytes);
            }
            return;
        }
        for (int h = 0; h < hs.length; h++) {
            if (position != hs[h].size()) {
                throw new IllegalArgumentException("position " + position + " is out of order for KV head " + h + ": its next position is "
                        + hs[h].size() + " (nothing was appended)");
            }
        }
        int charged = 0;
        try {
            for (; charged < hs.length; charged++) {
                bytes[charged] = charge(hs[charged], position, 1, 0);
            }
        } finally {
            if (charged < hs.length) { // refused: give back what the heads before it took
                for (int h = 0; h < charged; h++) {
                    uncharge(bytes[h]);
                }
            }
        }
        long total = 0;
        for (long b : bytes) {
            total += b;
        }
        // One journal record for the whole layer: a failure leaves every head as it was (log gives the charge back).
        log(j -> j.appendLayer(layer, position, keys, values), total);
        for (int h = 0; h < hs.length; h++) {
            hs[h].markCharged();
            hs[h].hold(keys[h], values[h]);
        }
    }

    /** Answers {@code queries[q]} into {@code results[q]}: the calling thread and helpers of the common pool claim query heads in turn. */
    private void answerAll(int layer, float[][] queries, int budget, AttendResult[] results) {
        int n = queries.length;
        int helpers = Runtime.getRuntime().availableProcessors() <= 1 ? 0
                : Math.min(n - 1, ForkJoinPool.getCommonPoolParallelism());
        if (helpers <= 0) {
            for (int q = 0; q < n; q++) {
                results[q] = answer(layer, q, queries[q], config.topK(), budgetOf(layer, q, budget));
            }
            return;
        }
        LayerWork work = new LayerWork(this, layer, queries, budget, results, Thread.currentThread());
        for (int i = 0; i < helpers; i++) {
            ForkJoinPool.commonPool().execute(work);
        }
        work.run();
        work.await();
    }

    private int budgetOf(int layer, int queryHead, int budget) {
        return budget != DEFAULT_BUDGET ? budget : KvSessionConfig.defaultBudget(length(layer, kvHeadOf(queryHead)), config.topK());
    }

    /** The query heads of one {@link #decodeLayer}, claimed one at a time by whichever thread comes; the caller waits for the last. */
    private static final class LayerWork implements Runnable {
        private final KvSession session;
        private final int layer;
        private final float[][] queries;
        private final int budget;
        private final AttendResult[] results;
        private final Thread caller;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger left;
        private volatile Throwable failure;

        LayerWork(KvSession session, int layer, float[][] queries, int budget, AttendResult[] results, Thread caller) {
            this.session = session;
            this.layer = layer;
            this.queries = queries;
            this.budget = budget;
            this.results = results;
            this.caller = caller;
            this.left = new AtomicInteger(queries.length);
        }

        @Override
        public void run() {
            for (int q; (q = next.getAndIncrement()) < queries.length; ) {
                try {
                    results[q] = session.answer(layer, q, queries[q], session.config.topK(), session.budgetOf(layer, q, budget));
                } catch (Throwable t) {
                    if (failure == null) {
                        failure = t;
                    }
                } finally {
                    if (left.decrementAndGet() == 0) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        /** Waits until every query head is answered (helpers may still be finishing theirs), then rethrows the first failure. */
        void await() {
            boolean interrupted = false;
            while (left.get() > 0) {
                LockSupport.park(this);
                interrupted |= Thread.interrupted();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable t = failure;
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new IllegalStateException(t);
            }
        }
    }

    /**
     * Attention of {@code query} (query head {@code queryHead} of {@code layer}) over its KV head: the
     * static set exactly, merged with the top-k keys the index retrieves within {@code budget} distance
     * computations; exactly over every key while the index is not built.
     */
    public AttendResult attend(int layer, int queryHead, float[] query, int budget) {
        return attend(layer, queryHead, query, config.topK(), budget);
    }

    /** The same, retrieving {@code k} keys instead of the configured {@code topK}. */
    public AttendResult attend(int layer, int queryHead, float[] query, int k, int budget) {
        AttendResult result = answer(layer, queryHead, query, k, budget);
        ArrayDeque<HeadQuery> seen = recent[layer];
        synchronized (seen) {
            if (seen.size() == RECENT_QUERIES) {
                seen.removeFirst();
            }
            seen.addLast(new HeadQuery(queryHead, query.clone()));
        }
        return result;
    }

    /** A decode query as {@link #attend} saw it. */
    public record HeadQuery(int queryHead, float[] query) {
    }

    /** The latest (at most {@link #RECENT_QUERIES}) queries {@link #attend} answered for {@code layer}, oldest first. */
    public List<HeadQuery> recentQueries(int layer) {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException("layer " + layer + " is outside [0, " + config.layers() + ")");
        }
        synchronized (recent[layer]) {
            return List.copyOf(recent[layer]);
        }
    }

    /**
     * How close {@link #attend}'s answer to {@code query} is to full attention over every key: the answer's relative
     * output error, the true softmax mass of the keys it used, and the share of the true top-k keys ({@code topK} of
     * the configuration) among them. Costs a pass over every key; the query is not recorded as a recent one.
     */
    public AccuracyCheck checkAccuracy(int layer, int queryHead, float[] query, int budget) {
        AttendResult got = answer(layer, queryHead, query, config.topK(), budget);
        AttendResult exact = attendExact(layer, queryHead, query);
        KvHead h = readable(layer, kvHeadOf(queryHead));
        int n = (int) exact.stats().keysScanned(); // (a token appended between the two answers counts as used)
        int[] truth = scorer.topK(new float[][] {query}, h.keys(), Math.min(config.topK(), n)).get(0).ids();
        double recall;
        if (got.stats().mode().equals("flat")) {
            recall = 1; // every key was used
        } else {
            int sinks = Math.min(config.sinkTokens(), n);
            int upTo = n - got.stats().staticKeys() + sinks; // the static set: [0, sinks) and [upTo, n)
            Set<Integer> used = new HashSet<>();
            for (int p : got.retrieved()) {
                used.add(p);
            }
            int hits = 0;
            for (int t : truth) {
                hits += t < sinks || t >= upTo || used.contains(t) ? 1 : 0;
            }
            recall = truth.length == 0 ? 1 : (double) hits / truth.length;
        }
        return new AccuracyCheck(queryHead, AttentionAccuracy.relativeError(got.output(), exact.output()),
                AttentionAccuracy.massKept(got.logSumExp(), exact.logSumExp()), recall, got.stats(), exact.stats().micros());
    }

    /**
     * One {@link #checkAccuracy} result.
     *
     * @param keyRecall   the share of the true top-k keys the answer used (in its static set or retrieved)
     * @param exactMicros the time full attention took
     */
    public record AccuracyCheck(int queryHead, double relativeError, double massKept, double keyRecall, AttendStats answer,
                                long exactMicros) {
    }

    private AttendResult answer(int layer, int queryHead, float[] query, int k, int budget) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
        int kvHead = kvHeadOf(queryHead);
        checkQuery("query", query);
        if (budget < 1) {
            throw new IllegalArgumentException("budget must be >= 1, got " + budget);
        }
        return finite(layer, queryHead, readable(layer, kvHead).answer(queryHead, query, k, budget));
    }

    /** Exact attention over every key of the query head's KV head (the reference for accuracy). */
    public AttendResult attendExact(int layer, int queryHead, float[] query) {
        int kvHead = kvHeadOf(queryHead);
        checkQuery("query", query);
        try {
            return finite(layer, queryHead, readable(layer, kvHead).answerExact(query));
        } catch (IllegalStateException e) {
            throw new IllegalStateException("KV head " + layer + "/" + kvHead + " " + e.getMessage(), e);
        }
    }

    /** The state of a KV head's index. */
    public IndexState indexState(int layer, int kvHead) {
        return orBlank(layer, kvHead).indexState();
    }

    /** How a KV head attends: its policy and, for an automatic one, what the prefill measured; what it holds. */
    public PolicyState policyState(int layer, int kvHead) {
        return orBlank(layer, kvHead).policyState();
    }

    /**
     * A KV head's policy: {@code configured} as set (a policy name or {@code auto...}), {@code policy} the one it follows
     * (null while an automatic choice waits for the prefill's end), {@code measured} the prefill statistics behind an
     * automatic choice (null otherwise), the bytes of keys and values held and of its index (or blocks, or clusters),
     * and for a policy head the index searches done, the answers that reused an earlier selection, and a recycling
     * head's cosine threshold (calibrated on the prefill for {@code recycled:auto}; null for the other heads).
     */
    public record PolicyState(String configured, String policy, Measured measured, long kvBytes, long indexBytes, long searches,
                              long reuses, Double recycleThreshold) {
    }

    /** {@link PolicyChooser.Choice}'s measurements: the mean and largest attention mass outside sinks + window, and the top-k share of it. */
    public record Measured(double massOutsideMean, double massOutsideMax, double topKShare, int queries) {
    }

    /**
     * A KV head's index (or indexes, one per query head): {@code state} is none, building, ready or failed (with
     * the reason); {@code indexedKeys} are in each index, positions {@code [sinks, indexedUpTo)}; {@code built} /
     * {@code toBuild} count the work of a running build (training queries projected and keys linked by an
     * attention-aware build, keys inserted by HNSW; over all indexes of the head); {@code indexBytes} sums them.
     */
    public record IndexState(String state, int indexedKeys, int indexedUpTo, int tokens, int built, int toBuild, long indexBytes) {
    }

    /**
     * Bytes held: the table of heads and the recent queries of each layer, and for each KV head written its
     * bookkeeping, keys and values, prefill queries kept and indexes. A head never written holds nothing.
     */
    public long memoryBytes() {
        long bytes = KvSessionLimits.fixedBytes(config);
        for (KvHead h : madeHeads()) {
            bytes += h.memoryBytes(KvSessionLimits.queryBytes(config));
        }
        return bytes;
    }

    /** Bytes charged against the limits ({@link KvSessionLimits}): what the session may still grow to is their limit less this. */
    public long chargedBytes() {
        return charged.get();
    }

    /** The limits this session follows. */
    public KvSessionLimits limits() {
        return limits;
    }

    /**
     * Closes the session: later prefills and appends are refused ({@link KvSessionClosedException}, nothing changed);
     * those under way finish first (each is charged, journaled and applied, or given back, under its head's monitor), then
     * the bytes charged go back to the store's total, the journal closes and the indexes are freed.
     */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        // A write charges under its head's monitor and checks `closed` there: once each monitor has been taken, no write is
        // under way and none can charge again, so what is released below is exactly what this session holds. (A head made
        // after this pass sees `closed` set: it was set before the pass read the head's slot.)
        for (KvHead h : madeHeads()) {
            synchronized (h) { // waits for the write that holds it, if any
                assert closed.get();
            }
        }
        if (budget != null) {
            budget.release(charged.get());
        }
        KvJournal j = journal;
        if (j != null) {
            try {
                j.close();
            } catch (IOException e) {
                // Every acknowledged write was forced already; what can fail is the cut of a write that failed (KvJournal).
                System.getLogger(KvSession.class.getName()).log(System.Logger.Level.ERROR,
                        "KV session " + ResourceId.shown(id) + ": its journal did not close cleanly: " + e.getMessage(), e);
            }
        }
        for (KvHead h : madeHeads()) {
            h.close();
        }
    }

    private final AtomicBoolean closed = new AtomicBoolean();

    // ------------------------------------------------------------------ internals

    /** A journal write; it must reach the disk before the session changes (write-ahead). */
    private interface JournalWrite {
        void write(KvJournal journal) throws IOException;
    }

    /**
     * Journals a write whose {@code bytes} are reserved already ({@link #charge}): on failure they are given back and
     * nothing changes. A full disk is an {@link UncheckedIOException} caused by a
     * {@link StorageErrors.StorageFullException}; any other I/O failure an {@link UncheckedIOException} caused by it.
     */
    private void log(JournalWrite write, long bytes) {
        KvJournal j = journal;
        try {
            if (j != null) {
                write.write(j);
            }
        } catch (IOException e) {
            uncharge(bytes);
            if (StorageErrors.isDiskFull(e)) {
                String m = "KV session " + ResourceId.shown(id) + ": the disk is full, the write was not journaled and nothing changed";
                throw new UncheckedIOException(m, new StorageErrors.StorageFullException(m, e));
            }
            throw new UncheckedIOException("KV session " + ResourceId.shown(id) + ": cannot journal the write (" + e
                    + "), nothing changed", e);
        } catch (RuntimeException | Error e) {
            uncharge(bytes);
            throw e;
        }
    }

    /**
     * Reserves what a write of {@code rows} tokens from {@code position} (and {@code queries} kept prefill queries) costs,
     * under h's monitor, or refuses it with a {@link KvLimitException} (a closed session with a
     * {@link KvSessionClosedException}); returns the bytes reserved.
     */
    private long charge(KvHead h, int position, int rows, int queries) {
        if (closed.get()) { // under h's monitor: close() releases the charges only after it has held every head's
            throw new KvSessionClosedException(id);
        }
        if ((long) position + rows > limits.maxTokensPerHead()) {
            throw new KvLimitException(KvLimitException.Scope.SESSION, KvSessionLimits.KEY_MAX_TOKENS_PER_HEAD, limits.maxTokensPerHead(),
                    "KV session " + ResourceId.shown(id) + ": " + rows + " tokens from position " + position + " would pass the tokens a head may hold");
        }
        long bytes = rows * KvSessionLimits.tokenBytes(config) + queries * KvSessionLimits.queryBytes(config)
                + (h.charged() ? 0 : KvSessionLimits.HEAD_OVERHEAD_BYTES);
        long now;
        do {
            now = charged.get();
            if (now + bytes > limits.maxSessionBytes()) {
                throw new KvLimitException(KvLimitException.Scope.SESSION, KvSessionLimits.KEY_MAX_SESSION_BYTES, limits.maxSessionBytes(),
                        "KV session " + ResourceId.shown(id) + " holds " + now + " bytes; this write of " + bytes + " more would pass its limit");
            }
        } while (!charged.compareAndSet(now, now + bytes));
        if (budget != null && !budget.reserve(bytes)) {
            charged.addAndGet(-bytes);
            throw new KvLimitException(KvLimitException.Scope.STORE, KvSessionLimits.KEY_MAX_TOTAL_BYTES, limits.maxTotalBytes(),
                    "the KV sessions held are too large for a write of " + bytes + " more bytes (to KV session " + ResourceId.shown(id) + ")");
        }
        return bytes;
    }

    private void uncharge(long bytes) {
        charged.addAndGet(-bytes);
        if (budget != null) {
            budget.release(bytes);
        }
    }

    /** The largest norm of a key or query: {@code sqrt(MAX_SCORE / scale)} (106,400 at the scale 1/sqrt(128), 31,623 at the scale 1). */
    public double maxNorm() {
        return Math.sqrt(MAX_SCORE / config.scale());
    }

    /** A key or value: finite; a key's norm at most {@link #maxNorm()}, a value's components at most {@link #MAX_ABS_VALUE} (float16: 65504). */
    private void checkStored(String what, float[] v) {
        VectorChecks.checkVector(what, v, config.headDim());
        double max = config.storage() == Precision.FLOAT16 ? FLOAT16_MAX : MAX_ABS_VALUE;
        for (int c = 0; c < v.length; c++) {
            if (Math.abs(v[c]) > max) {
                throw new IllegalArgumentException(what + " holds " + v[c] + " at component " + c + ": components must be within +-"
                        + (config.storage() == Precision.FLOAT16 ? "65504 (float16 storage)" : "1e9"));
            }
        }
        if (what.startsWith("key")) {
            checkNorm(what, v);
        }
    }

    /** A query: finite, its norm at most {@link #maxNorm()}. */
    private void checkQuery(String what, float[] v) {
        VectorChecks.checkVector(what, v, config.headDim());
        checkNorm(what, v);
    }

    private void checkNorm(String what, float[] v) {
        double sq = 0;
        for (float x : v) {
            sq += (double) x * x;
        }
        double norm = Math.sqrt(sq);
        if (norm > maxNorm()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s has norm %.4g, over %.4g = sqrt(1e9 / scale): "
                    + "keys and queries that large make scores over 1e9, which float32 attention cannot weigh (NaN answers)", what, norm, maxNorm()));
        }
    }

    /**
     * The answer, checked: an output or log-sum-exp that is not finite is an {@link ArithmeticException}, never served.
     * The one exception: a head with no tokens answers zeros with a log-sum-exp of -infinity (no mass at all).
     */
    private static AttendResult finite(int layer, int queryHead, AttendResult r) {
        boolean ok = !Double.isNaN(r.logSumExp()) && r.logSumExp() != Double.POSITIVE_INFINITY
                && (r.logSumExp() != Double.NEGATIVE_INFINITY || r.stats().keysScanned() == 0);
        for (float x : r.output()) {
            ok &= Float.isFinite(x);
        }
        if (!ok) {
            throw new ArithmeticException("attention of layer " + layer + ", query head " + queryHead + " is not finite (log-sum-exp "
                    + r.logSumExp() + "): the scores overflowed; nothing is answered");
        }
        return r;
    }

    /** Makes every later prefill and append durable through {@code j} (after its replay). */
    void attachJournal(KvJournal j) {
        this.journal = j;
    }

    KvJournal journal() {
        return journal;
    }

    /**
     * While held, no index build starts (the store holds them while it replays a journal); releasing starts
     * the builds that are due.
     */
    void holdBuilds(boolean hold) {
        buildsHeld = hold;
        if (!hold) {
            for (KvHead h : madeHeads()) {
                startDueWork(h);
            }
        }
    }

    private void startDueWork(KvHead h) {
        if (!buildsHeld) {
            h.startDueWork();
        }
    }

    private void checkPosition(KvHead h, int position) {
        if (position != h.size()) {
            throw new IllegalArgumentException("position " + position + " is out of order: the next position is " + h.size());
        }
    }

    /** The head's state, or null when it was never written; checks the layer and head. */
    private KvHead existing(int layer, int kvHead) {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException("layer " + layer + " is not in [0, " + config.layers() + ")");
        }
        if (kvHead < 0 || kvHead >= config.kvHeads()) {
            throw new IllegalArgumentException("KV head " + kvHead + " is not in [0, " + config.kvHeads() + ")");
        }
        return heads.get(layer * config.kvHeads() + kvHead);
    }

    /** The head's state, made at its first write. */
    private KvHead forWrite(int layer, int kvHead) {
        KvHead h = existing(layer, kvHead);
        if (h != null) {
            return h;
        }
        KvHead made = newHead(layer, kvHead);
        int i = layer * config.kvHeads() + kvHead;
        return heads.compareAndSet(i, null, made) ? made : heads.get(i);
    }

    /** The head's state for a report; a head never written reports as a blank one (not kept). */
    private KvHead orBlank(int layer, int kvHead) {
        KvHead h = existing(layer, kvHead);
        return h != null ? h : newHead(layer, kvHead);
    }

    /** The head's state for an answer; a head never written answers as a blank one (no tokens, not kept). */
    private KvHead readable(int layer, int kvHead) {
        return orBlank(layer, kvHead);
    }

    private int kvHeadOf(int queryHead) {
        if (queryHead < 0 || queryHead >= config.queryHeads()) {
            throw new IllegalArgumentException("query head " + queryHead + " is not in [0, " + config.queryHeads() + ")");
        }
        return queryHead / config.queryHeadsPerKvHead();
    }
}
