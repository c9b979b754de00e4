package dev.attend.retrieval.policy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.VectorMath;
import dev.attend.gpu.VectorStore;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.factory.IndexKind;
import dev.attend.index.factory.VectorIndexes;
import dev.attend.index.graph.AttentionAwareIndex;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

/**
 * Retrieval attention, the one implementation: the static set exactly, merged through log-sum-exp with the top k keys
 * an index retrieves from the other tokens ({@link HeadPolicy.Retrieval}). The index is attention-aware (built over
 * the head's own key rows from the prefill's queries), or HNSW over the keys as the baseline, and there may be one
 * per query head reading the KV head ({@link IndexSettings}). A token that leaves the window enters the indexes, on
 * the append or, deferred, in {@link #catchUp}; positions {@code [sinks, indexedUpTo)} are in every index, every
 * other one is in the static set, so a search racing an insertion never counts a key twice.
 *
 * <p>With a recycling threshold ({@link HeadPolicy.Recycled}), a search keeps a pool of its best {@link #POOL_FACTOR}
 * k keys, and every later query whose cosine with the searched one stays at or above the threshold takes its top k
 * from that pool: the pool's keys with the tokens up to {@link #NEIGHBOURHOOD} positions either side of each, and the
 * keys indexed since, scored again (one to two thousand products instead of a search), the best {@link #POOL_FACTOR} k
 * kept as the next pool; the first query below the threshold is searched. The positional neighbours follow attention
 * that moves along the text (a copying head moves a token forward per step). With clusters
 * ({@link HeadPolicy.RetrievalTail}), the indexed keys neither retrieved nor static are estimated from their clusters
 * ({@link ClusterTail}) and merged like the exact parts. Measurements behind these choices: bench/RESULTS.md.
 *
 * <p>A calibrated threshold ({@code recycled:auto}) is chosen when the head opens, from the prefill's last
 * {@value #CALIBRATION_QUERIES} queries replayed as decode steps under every candidate threshold: the lowest threshold
 * (the most reuse) whose median output error against full attention stays within {@value #CALIBRATION_TOLERANCE}
 * times that of searching every step is kept.
 *
 * <p>Without recycling or a tail its answers read only volatile state and may run concurrently with each other and
 * with {@link #catchUp} ({@link #concurrentReads()}).
 */
final class RetrievalHead extends PolicyHead {

    private final int sinks;
    private final int window;
    private final int k;
    private final boolean recycling;
    private double threshold; // NaN while a calibrated one is not chosen yet
    private final int clusters; // -1: no tail estimate; 0: the square root of the indexed keys
    private final IndexSettings settings;
    /** Whether insertions wait for {@link #catchUp}: only where answers may run alongside it. */
    private final boolean deferred;
    private final BuildProgress progress;
    private ClusterTail tail;
    /** One index per group of query heads; null before the first build. */
    private volatile VectorIndex[] indexes;
    private volatile int indexedUpTo;
    /** Held while tokens that left the window enter the indexes (one inserter at a time). */
    private final Object inserting = new Object();
    private float[] lastSearched;
    private int[] lastPool;
    /** {@link #indexedUpTo} when {@link #lastPool} was made. */
    private int poolUpTo;
    /** Prefill queries a calibration replays (the last ones: the nearest to the decode steps to come). */
    static final int CALIBRATION_QUERIES = 64;
    /** How much more median error than searching every step a calibrated threshold may cost. */
    static final double CALIBRATION_TOLERANCE = 1.1;
    /** The thresholds a calibration tries, from the most searching to the most reusing. */
    private static final double[] CANDIDATE_THRESHOLDS = {0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -1.0};
    /** The pool a recycling search keeps, in multiples of k (the search's beam is already that wide at the default budget). */
    static final int POOL_FACTOR = 4;
    /** Positions on either side of a pool's key that a reusing step scores too. */
    static final int NEIGHBOURHOOD = 2;
    /** Keys an HNSW build inserts between progress reports. */
    private static final int HNSW_SLICE = 16_384;
    private final LongAdder searches = new LongAdder();
    private final LongAdder reuses = new LongAdder();

    RetrievalHead(float scale, Scorer scorer, VectorStore keys, VectorStore values, int sinks, int window, int k, boolean recycling,
                  double threshold, int clusters, IndexSettings settings, BuildProgress progress) {
        super(scale, scorer, keys, values);
        if ((recycling || clusters >= 0) && (settings.hnsw() || settings.indexes() > 1)) {
            throw new IllegalArgumentException("recycling and the tail estimate read one attention-aware index per KV head: they do not"
                    + " combine with HNSW or an index per query head");
        }
        this.sinks = sinks;
        this.window = window;
        this.k = k;
        this.recycling = recycling;
        this.threshold = threshold;
        this.clusters = clusters;
        this.settings = settings;
        this.deferred = settings.deferInsertion() && concurrentReads();
        this.progress = progress;
    }

    @Override
    void prefill(float[][][] queries) {
        int upTo = Math.max(sinks, tokens - window);
        if (upTo <= sinks) {
            indexedUpTo = sinks; // the index starts at the sinks' end when a token first leaves the window
            return;
        }
        indexes = build(sinks, upTo, queries);
        indexedUpTo = upTo;
        if (clusters >= 0) {
            tail = ClusterTail.build(keys, values, sinks, upTo, clusters, scorer);
        }
        if (recycling && Double.isNaN(threshold)) {
            threshold = calibrate(queries[0]);
        }
    }

    /** The indexes over rows {@code [from, to)}, each trained on its group's queries (an HNSW index takes none). */
    private VectorIndex[] build(int from, int to, float[][][] queries) {
        int count = settings.indexes();
        VectorIndex[] built = new VectorIndex[count];
        for (int g = 0; g < count; g++) {
            int before = g; // the progress of the indexes already built
            built[g] = settings.hnsw() ? buildHnsw(from, to, before, count)
                    // Over the head's own key rows: the index holds no copy of them.
                    : AttentionAwareIndex.build(settings.params(), keys, from, to, g < queries.length ? queries[g] : new float[0][],
                            scorer, (done, total) -> progress.report(before * total + done, count * total));
        }
        return built;
    }

    private VectorIndex buildHnsw(int from, int to, int before, int count) {
        int n = to - from;
        VectorIndex index = VectorIndexes.create(IndexKind.HNSWLIB, dim, Similarity.DOT_PRODUCT,
                VectorIndexes.Options.defaults().withExpectedSize(Math.max(1024, n + window)));
        for (int at = 0; at < n; at += HNSW_SLICE) {
            int end = Math.min(n, at + HNSW_SLICE);
            long[] ids = new long[end - at];
            float[][] rows = new float[end - at][];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = from + at + i;
                rows[i] = keys.row(from + at + i);
            }
            index.addAll(ids, rows);
            progress.report(before * n + end, count * n);
        }
        return index;
    }

    @Override
    void took() {
        if (!deferred) {
            insertUpTo(tokens + 1 - window); // the token that left the window with this one, once past the sinks
        }
    }

    @Override
    public boolean catchUpDue() {
        return deferred && indexedUpTo < tokens - window;
    }

    @Override
    public void catchUp() {
        insertUpTo(tokens - window);
    }

    /** Moves the tokens before {@code upTo} that left the window into every index, raising {@link #indexedUpTo} after each. */
    private void insertUpTo(int upTo) {
        synchronized (inserting) {
            for (int next = indexedUpTo; next < upTo; next++) {
                if (next < sinks) {
                    continue;
                }
                VectorIndex[] built = indexes;
                if (built == null) { // a prefill shorter than sinks + window: the first token out of the window starts the index
                    indexes = build(next, next + 1, new float[][][] {{keys.row(next)}});
                    if (clusters >= 0) {
                        tail = ClusterTail.build(keys, values, next, next + 1, clusters, scorer);
                    }
                    if (recycling && Double.isNaN(threshold)) { // no prefill beyond the static set to calibrate on
                        threshold = HeadPolicy.DEFAULT_RECYCLE_THRESHOLD;
                    }
                } else {
                    float[] key = null;
                    for (VectorIndex index : built) {
                        if (index instanceof AttentionAwareIndex aware) {
                            aware.addStoredRows(next + 1); // reads the key where the head keeps it
                        } else {
                            index.add(next, key != null ? key : (key = keys.row(next)));
                        }
                    }
                    if (tail != null) {
                        tail.add(next, keys.row(next), values.row(next));
                    }
                }
                indexedUpTo = next + 1;
            }
        }
    }

    @Override
    public void learn(float[][][] queries) {
        VectorIndex[] built = indexes;
        for (int g = 0; built != null && g < built.length && g < queries.length; g++) {
            if (queries[g].length > 0 && built[g] instanceof AttentionAwareIndex aware) {
                aware.addQueries(queries[g], scorer);
            }
        }
    }

    @Override
    public boolean concurrentReads() {
        return !recycling && clusters < 0;
    }

    @Override
    public PolicyAnswer attend(float[] query, int budget) {
        return attend(query, 0, k, budget);
    }

    @Override
    public PolicyAnswer attend(float[] query, int queryGroup, int k, int budget) {
        checkQuery(query, budget);
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
        // Snapshot: the indexes cover [sinks, upTo) and the stores at least [0, tokens).
        int upTo = indexedUpTo;
        VectorIndex[] built = indexes;
        if (built == null) {
            return answer(query, new int[0], 0, false, upTo);
        }
        VectorIndex index = built[built.length > 1 ? queryGroup : 0];
        if (recycling && lastPool != null && cosine(query, lastSearched) >= threshold) {
            reuses.increment();
            int[] candidates = candidates(lastPool, poolUpTo, upTo);
            lastPool = refreshPool(query, candidates, k);
            poolUpTo = upTo;
            return answer(query, Arrays.copyOf(lastPool, Math.min(k, lastPool.length)), candidates.length, false, upTo);
        }
        SearchResult found = index.search(query, recycling ? POOL_FACTOR * k : k, budget);
        int[] pool = positions(found, upTo);
        searches.increment();
        if (recycling) {
            lastSearched = query.clone();
            poolUpTo = upTo;
            lastPool = pool;
        }
        return answer(query, pool.length > k ? Arrays.copyOf(pool, k) : pool, found.stats().distanceComputations(), true, upTo);
    }

    /** The retrieved positions an answer may use: those in the indexes' range when the answer began. */
    private int[] positions(SearchResult found, int upTo) {
        int[] ids = new int[found.ids().length];
        int count = 0;
        for (long position : found.ids()) {
            if (position >= sinks && position < upTo) {
                ids[count++] = (int) position;
            }
        }
        return Arrays.copyOf(ids, count);
    }

    /**
     * The static set exactly, merged with the {@code retrieved} keys exactly and, with a tail, the estimate of the
     * rest; {@code selectionCost} is what choosing them took (a search's distance computations, or a pool's products).
     */
    private PolicyAnswer answer(float[] query, int[] retrieved, long selectionCost, boolean searched, int upTo) {
        int n = tokens;
        int[] staticSet = staticSet(sinks, indexes == null ? Math.min(sinks, n) : upTo, n);
        LogSumExpMerge merge = new LogSumExpMerge(dim);
        merge.addExact(scorer, query, keys, values, staticSet, scale);
        long scanned = staticSet.length + selectionCost;
        if (indexes != null) {
            merge.addExact(scorer, query, keys, values, retrieved, scale);
            if (tail != null) {
                ClusterTail.Estimate rest = tail.estimate(query, scale, retrieved);
                if (rest != null) {
                    merge.add(rest.output(), rest.logSumExp());
                }
                scanned += tail.clusters();
            }
        }
        return new PolicyAnswer(merge.output(), merge.logSumExp(), scanned, searched, staticSet.length, retrieved);
    }

    /**
     * The recycling threshold for this head: the prefill's last queries replayed as decode steps under every candidate
     * threshold (see the class comment); {@link HeadPolicy#DEFAULT_RECYCLE_THRESHOLD} without two queries to replay.
     */
    private double calibrate(float[][] queries) {
        int c = Math.min(CALIBRATION_QUERIES, queries.length);
        if (c < 2) {
            return HeadPolicy.DEFAULT_RECYCLE_THRESHOLD;
        }
        float[][] run = Arrays.copyOfRange(queries, queries.length - c, queries.length);
        int upTo = indexedUpTo;
        int budget = (int) Math.max(2L * POOL_FACTOR * k, Math.ceil(12 * Math.sqrt(upTo - sinks)));
        int[] everything = staticSet(0, 0, tokens);
        int[][] pools = new int[c][];
        float[][] exact = new float[c][];
        double[] searchedErrors = new double[c];
        for (int i = 0; i < c; i++) {
            pools[i] = positions(indexes[0].search(run[i], POOL_FACTOR * k, budget), upTo);
            exact[i] = scorer.attend(run[i], keys, values, everything, scale).output();
            int[] top = Arrays.copyOf(pools[i], Math.min(k, pools[i].length));
            searchedErrors[i] = AttentionAccuracy.relativeError(answer(run[i], top, 0, true, upTo).output(), exact[i]);
        }
        double limit = CALIBRATION_TOLERANCE * median(searchedErrors);
        double chosen = 1.0; // reuse an identical query only
        double[] errors = new double[c];
        for (double candidate : CANDIDATE_THRESHOLDS) {
            int last = 0;
            int[] pool = pools[0];
            for (int i = 0; i < c; i++) {
                if (i > 0 && cosine(run[i], run[last]) >= candidate) {
                    pool = refreshPool(run[i], candidates(pool, upTo, upTo), k);
                } else {
                    last = i;
                    pool = pools[i];
                }
                int[] retrieved = Arrays.copyOf(pool, Math.min(k, pool.length));
                errors[i] = AttentionAccuracy.relativeError(answer(run[i], retrieved, 0, false, upTo).output(), exact[i]);
            }
            if (median(errors) <= limit) {
                chosen = candidate;
            }
        }
        return chosen;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    @Override
    public double recycleThreshold() {
        return recycling ? threshold : Double.NaN;
    }

    /** The pool for a reusing step: the best {@link #POOL_FACTOR} k of {@link #candidates} for {@code query}, best first. */
    private int[] refreshPool(float[] query, int[] candidates, int k) {
        TopKCollector best = new TopKCollector(Math.min(POOL_FACTOR * k, candidates.length));
        for (int position : candidates) {
            best.offer(keys.dot(position, query), position);
        }
        return best.drain().ids();
    }

    /**
     * What a reusing step scores: a pool's keys with their indexed neighbours (up to {@link #NEIGHBOURHOOD} positions
     * either side), and the keys indexed since the pool was made ({@code [since, upTo)}: a search now would see them),
     * each once, in order.
     */
    private int[] candidates(int[] pool, int since, int upTo) {
        int[] sorted = pool.clone();
        Arrays.sort(sorted);
        int[] out = new int[(2 * NEIGHBOURHOOD + 1) * sorted.length + Math.max(0, upTo - since)];
        int n = 0;
        for (int p : sorted) {
            for (int x = Math.max(sinks, p - NEIGHBOURHOOD); x <= p + NEIGHBOURHOOD && x < upTo; x++) {
                if (n == 0 || x > out[n - 1]) {
                    out[n++] = x;
                }
            }
        }
        int pooled = n;
        for (int p = Math.max(since, sinks); p < upTo; p++) {
            if (Arrays.binarySearch(out, 0, pooled, p) < 0) {
                out[n++] = p;
            }
        }
        return Arrays.copyOf(out, n);
    }

    private static double cosine(float[] a, float[] b) {
        double ab = VectorMath.dot(a, 0, b, 0, a.length);
        double aa = VectorMath.dot(a, 0, a, 0, a.length);
        double bb = VectorMath.dot(b, 0, b, 0, b.length);
        return aa == 0 || bb == 0 ? (aa == bb ? 1 : 0) : ab / Math.sqrt(aa * bb);
    }

    @Override
    public long searches() {
        return searches.sum();
    }

    @Override
    public long reuses() {
        return reuses.sum();
    }

    @Override
    public int indexedKeys() {
        VectorIndex[] built = indexes;
        return built == null ? 0 : built[0].size();
    }

    @Override
    public int indexedUpTo() {
        return indexedUpTo;
    }

    @Override
    public long indexBytes() {
        long bytes = tail == null ? 0 : tail.bytes();
        VectorIndex[] built = indexes;
        for (VectorIndex index : built == null ? new VectorIndex[0] : built) {
            bytes += index.memoryBytes();
        }
        return bytes;
    }

    @Override
    public void close() {
        VectorIndex[] built = indexes;
        for (VectorIndex index : built == null ? new VectorIndex[0] : built) {
            index.close();
        }
    }
}
