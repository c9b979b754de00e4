package dev.attend.retrieval;

import dev.attend.gpu.Scorer;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.internals.KvJournal;
import dev.attend.retrieval.policy.AttentionAccuracy;
import dev.attend.retrieval.policy.HeadPolicy;
import dev.attend.retrieval.policy.PolicyChooser;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * The offloaded KV cache of one sequence: keys and values per layer and KV head ({@link SessionHead}), each head following
 * its policy ({@link KvSessionConfig#policies()}): the built-in retrieval (an {@link AttentionAwareIndex} trained on
 * the prefill queries of the query heads that share it, or, as the baseline, HNSW over the keys; one per KV head, or
 * one per query head with {@link KvSessionConfig#indexPerQueryHead()}), another {@link HeadPolicy} (full, streaming,
 * recycled, block, retrieval+tail), or {@code auto}, chosen from the head's prefill ({@link PolicyChooser}).
 *
 * <p>{@link #attend} answers one decode query with exact attention over the static set (the first {@code S} tokens,
 * the last {@code W}, and any token that left the window before the index could take it) merged through log-sum-exp
 * with exact attention over the top-k keys the index retrieves; until a head's index is built (in the background, on
 * the executor given) it answers exactly over every key and says so ({@link AttendStats#mode()} {@code "flat"}).
 * {@link #append} adds a decoded token at the next position; the token that leaves the window enters the index on the
 * {@code indexer} executor, off the append's path. The session checks what it is given ({@link KvInputs}), charges it
 * ({@link SessionCharges}) and journals it before it changes ({@link WriteAhead}).
 */
public final class KvSession implements AutoCloseable {

    private final String id;
    private final KvSessionConfig config;
    private final Scorer scorer;
    private final Executor builds;
    private final Executor indexer;
    /** The state of each KV head ({@code layer * kvHeads + kvHead}), made at its first write: a declared shape costs nothing until written. */
    private final SessionHeads heads;
    private final KvSessionLimits limits;
    private final KvInputs inputs;
    /** What the session is charged against its limits and its store's total. */
    private final SessionCharges charges;
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

    private final WriteAhead writeAhead;
    private volatile boolean buildsHeld;
    /** The latest decode queries answered per layer (in memory only): what {@link #recentQueries} gives an accuracy check. */
    private final RecentQueries recent;
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

    /**
     * The same, charged against {@code budget} as well (null: none), which the other sessions of a set share: a
     * session or write that would pass it is a {@link KvLimitException} of scope {@link KvLimitException.Scope#STORE}.
     */
    public KvSession(String id, KvSessionConfig config, Scorer scorer, Executor builds, Executor indexer, KvSessionLimits limits,
                     KvMemoryBudget budget) {
        this.id = Objects.requireNonNull(id, "id");
        this.config = Objects.requireNonNull(config, "config").checked();
        this.limits = Objects.requireNonNull(limits, "limits");
        this.inputs = new KvInputs(this.config);
        limits.check(config);
        this.scorer = Objects.requireNonNull(scorer, "scorer");
        this.builds = Objects.requireNonNull(builds, "builds");
        this.indexer = Objects.requireNonNull(indexer, "indexer");
        this.charges = new SessionCharges(id, this.config, limits, budget);
        this.writeAhead = new WriteAhead(id, charges);
        this.heads = new SessionHeads(this.config, (layer, kvHead) -> {
            String name = this.config.policies().nameOf(layer, kvHead);
            HeadPolicy policy = HeadPolicies.isAuto(name) ? null : HeadPolicies.resolve(name, this.config);
            return new SessionHead(this.config, scorer, builds, indexer, name, policy);
        });
        this.recent = new RecentQueries(config.layers(), RECENT_QUERIES);
    }

    public String id() {
        return id;
    }

    public KvSessionConfig config() {
        return config;
    }

    /** Tokens stored for a KV head. */
    public int length(int layer, int kvHead) {
        SessionHead h = heads.existing(layer, kvHead);
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
        heads.existing(layer, kvHead); // checks the layer and head
        inputs.checkPrefill(kvHead, keys, values, queries, queryHeads);
        SessionHead h = heads.forWrite(layer, kvHead);
        synchronized (h) {
            checkPosition(h, fromPosition);
            boolean[] kept = h.keptQueries(keys.length, queries, queryHeads);
            int keptCount = 0;
            for (boolean k : kept) {
                keptCount += k ? 1 : 0;
            }
            long bytes = charges.charge(h, fromPosition, keys.length, h.keepsQueries() ? keptCount : 0);
            writeAhead.log(() -> KvRecords.prefill(layer, kvHead, fromPosition, keys, values, queries, queryHeads), bytes);
            h.markCharged();
            for (int i = 0; i < keys.length; i++) {
                h.hold(keys[i], values[i]);
            }
            h.takeQueries(fromPosition, keys.length, queries, queryHeads, kept);
        }
        h.scheduleIndexing();
        if (!more) {
            startDueWork(h);
        }
    }

    /** Appends the token at {@code position} (which must be the next one) to a KV head. */
    public void append(int layer, int kvHead, int position, float[] key, float[] value) {
        heads.existing(layer, kvHead); // checks the layer and head
        inputs.checkStored("key", key);
        inputs.checkStored("value", value);
        SessionHead h = heads.forWrite(layer, kvHead);
        synchronized (h) {
            checkPosition(h, position);
            long bytes = charges.charge(h, position, 1, 0);
            writeAhead.log(() -> KvRecords.append(layer, kvHead, position, key, value), bytes);
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
        inputs.checkLayerStep(keys, values, queries, budget);
        int kvHeads = config.kvHeads();
        int queryHeads = config.queryHeads();
        SessionHead[] hs = new SessionHead[kvHeads];
        for (int h = 0; h < kvHeads; h++) {
            hs[h] = heads.forWrite(layer, h);
        }
        appendAll(layer, position, keys, values, hs, 0, new long[kvHeads]);
        for (SessionHead h : hs) {
            h.scheduleIndexing();
            startDueWork(h);
        }
        AttendResult[] results = new AttendResult[queryHeads];
        LayerWork.answerAll(this, layer, queries, budget, results);
        recent.add(layer, queries);
        return results;
    }

    /**
     * Takes the monitors of {@code hs[from..]} in order (nested), then, holding all of them: checks every head's position,
     * charges every head (giving back what was charged when one is refused), journals the layer's tokens as one record and
     * stores each head's token.
     */
    private void appendAll(int layer, int position, float[][] keys, float[][] values, SessionHead[] hs, int from, long[] bytes) {
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
                bytes[charged] = charges.charge(hs[charged], position, 1, 0);
            }
        } finally {
            if (charged < hs.length) { // refused: give back what the heads before it took
                for (int h = 0; h < charged; h++) {
                    charges.uncharge(bytes[h]);
                }
            }
        }
        long total = 0;
        for (long b : bytes) {
            total += b;
        }
        // One journal record for the whole layer: a failure leaves every head as it was (log gives the charge back).
        writeAhead.log(() -> KvRecords.appendLayer(layer, position, keys, values), total);
        for (int h = 0; h < hs.length; h++) {
            hs[h].markCharged();
            hs[h].hold(keys[h], values[h]);
        }
    }

    /** One query head of a {@link #decodeLayer} ({@link LayerWork}'s unit of work). */
    AttendResult answerOne(int layer, int queryHead, float[] query, int budget) {
        return answer(layer, queryHead, query, config.topK(), budgetOf(layer, queryHead, budget));
    }

    private int budgetOf(int layer, int queryHead, int budget) {
        return budget != DEFAULT_BUDGET ? budget : KvSessionConfig.defaultBudget(length(layer, kvHeadOf(queryHead)), config.topK());
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
        recent.add(layer, queryHead, query);
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
        return recent.of(layer);
    }

    /**
     * How close {@link #attend}'s answer to {@code query} is to full attention over every key: the answer's relative
     * output error, the true softmax mass of the keys it used, and the share of the true top-k keys ({@code topK} of
     * the configuration) among them. Costs a pass over every key; the query is not recorded as a recent one.
     */
    public AccuracyCheck checkAccuracy(int layer, int queryHead, float[] query, int budget) {
        AttendResult got = answer(layer, queryHead, query, config.topK(), budget);
        AttendResult exact = attendExact(layer, queryHead, query);
        SessionHead h = heads.orBlank(layer, kvHeadOf(queryHead));
        int n = (int) exact.stats().keysScanned(); // (a token appended between the two answers counts as used)
        int[] truth = scorer.topK(new float[][] {query}, h.keys(), Math.min(config.topK(), n)).get(0).ids();
        double recall;
        if (got.stats().mode().equals("flat")) {
            recall = 1; // every key was used
        } else {
            int sinks = Math.min(config.sinkTokens(), n);
            recall = AttentionAccuracy.keyRecall(truth, got.retrieved(), sinks, n - got.stats().staticKeys() + sinks);
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
        inputs.checkQuery("query", query);
        if (budget < 1) {
            throw new IllegalArgumentException("budget must be >= 1, got " + budget);
        }
        return KvInputs.finite(layer, queryHead, heads.orBlank(layer, kvHead).answer(queryHead, query, k, budget));
    }

    /** Exact attention over every key of the query head's KV head (the reference for accuracy). */
    public AttendResult attendExact(int layer, int queryHead, float[] query) {
        int kvHead = kvHeadOf(queryHead);
        inputs.checkQuery("query", query);
        try {
            return KvInputs.finite(layer, queryHead, heads.orBlank(layer, kvHead).answerExact(query));
        } catch (IllegalStateException e) {
            throw new IllegalStateException("KV head " + layer + "/" + kvHead + " " + e.getMessage(), e);
        }
    }

    /** The state of a KV head's index. */
    public IndexState indexState(int layer, int kvHead) {
        return heads.orBlank(layer, kvHead).indexState();
    }

    /** How a KV head attends: its policy and, for an automatic one, what the prefill measured; what it holds. */
    public PolicyState policyState(int layer, int kvHead) {
        return heads.orBlank(layer, kvHead).policyState();
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
        for (SessionHead h : heads.made()) {
            bytes += h.memoryBytes(KvSessionLimits.queryBytes(config));
        }
        return bytes;
    }

    /** Bytes charged against the limits ({@link KvSessionLimits}): what the session may still grow to is their limit less this. */
    public long chargedBytes() {
        return charges.charged();
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
        if (!charges.close()) {
            return;
        }
        // A write charges under its head's monitor and checks `closed` there: once each monitor has been taken, no write is
        // under way and none can charge again, so what is released below is exactly what this session holds. (A head made
        // after this pass sees `closed` set: it was set before the pass read the head's slot.)
        for (SessionHead h : heads.made()) {
            synchronized (h) { // waits for the write that holds it, if any
                assert charges.closed();
            }
        }
        charges.releaseAll();
        writeAhead.close();
        for (SessionHead h : heads.made()) {
            h.close();
        }
    }


    // ------------------------------------------------------------------ internals

    /** The largest norm of a key or query: {@code sqrt(MAX_SCORE / scale)} (106,400 at the scale 1/sqrt(128), 31,623 at the scale 1). */
    public double maxNorm() {
        return inputs.maxNorm();
    }

    /** Makes every later prefill and append durable through {@code j} (after its replay). */
    void attachJournal(KvJournal j) {
        writeAhead.attach(j);
    }

    KvJournal journal() {
        return writeAhead.journal();
    }

    /**
     * Makes every later prefill and append durable through {@code log} before it applies (what was written before, such
     * as a replay of the log, is not logged again); a session has one log, and a second is an
     * {@link IllegalStateException}.
     */
    public void attachLog(KvWriteLog log) {
        writeAhead.attach(Objects.requireNonNull(log, "log"));
    }

    /** Why the session takes no writes until it is restored from its log ({@link KvSessionFencedException}), or null. */
    public String fenced() {
        return writeAhead.fenced();
    }

    /**
     * While held, no index build starts (a store holds them while it replays a log into the session: one build per
     * head over everything replayed); releasing starts the builds that are due.
     */
    public void holdBuilds(boolean hold) {
        buildsHeld = hold;
        if (!hold) {
            for (SessionHead h : heads.made()) {
                startDueWork(h);
            }
        }
    }

    private void startDueWork(SessionHead h) {
        if (!buildsHeld) {
            h.startDueWork();
        }
    }

    private static void checkPosition(SessionHead h, int position) {
        if (position != h.size()) {
            throw new IllegalArgumentException("position " + position + " is out of order: the next position is " + h.size());
        }
    }

    private int kvHeadOf(int queryHead) {
        if (queryHead < 0 || queryHead >= config.queryHeads()) {
            throw new IllegalArgumentException("query head " + queryHead + " is not in [0, " + config.queryHeads() + ")");
        }
        return queryHead / config.queryHeadsPerKvHead();
    }
}
