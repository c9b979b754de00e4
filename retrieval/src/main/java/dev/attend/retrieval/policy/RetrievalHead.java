package dev.attend.retrieval.policy;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.VectorMath;
import dev.attend.index.SearchResult;
import dev.attend.index.graph.AttentionAwareIndex;

/**
 * The static set exactly, merged through log-sum-exp with the top k keys an attention-aware index (trained on the
 * prefill's queries) retrieves from the other tokens; a token that leaves the window enters the index. With a
 * recycling threshold, a search keeps a pool of its best {@link #POOL_FACTOR} k keys, and every later query whose
 * cosine with the searched one stays at or above the threshold takes its top k from that pool: the pool's keys with
 * the tokens up to {@link #NEIGHBOURHOOD} positions either side of each, and the keys indexed since, scored again
 * (one to two thousand products instead of a search), the best {@link #POOL_FACTOR} k kept as the next pool; the
 * first query below the threshold is searched, and becomes the one compared with. Re-ranking follows a query that
 * drifts within the pool's neighbourhood, where reusing the last top k as it was would not; the positional
 * neighbours follow attention that moves along the text (a copying or induction head moves a token forward per
 * step; attention to one token spills to the tokens beside it): on bytelm L5H4 the token after each key cut the error
 * of reusing at cosine 0.7 from 1.50 to 1.17 times that of searching every step, two on each side to 1.07 (of the
 * true top 10 of its reusing steps, 87% were in the pool, 6% within four positions of a pooled key). With clusters ({@link HeadPolicy.RetrievalTail}), the indexed keys
 * neither retrieved nor static are estimated from their clusters ({@link ClusterTail}) and merged like the exact parts.
 *
 * <p>A calibrated threshold ({@code recycled:auto}) is chosen when the head opens, from the prefill's last
 * {@value #CALIBRATION_QUERIES} queries replayed as decode steps: each searched once, each answered with every
 * candidate threshold, and the lowest threshold (the most reuse) whose median output error against full attention
 * stays within {@value #CALIBRATION_TOLERANCE} times that of searching every step is kept. Heads differ: consecutive
 * queries of one head stay alike where another's turn at every token, and a diffuse head with a tail estimate loses
 * little to a stale selection; one threshold for all either searches too often or reuses too much.
 */
final class RetrievalHead extends PolicyHead {

    private final int sinks;
    private final int window;
    private final int k;
    private final boolean recycling;
    private double threshold; // NaN while a calibrated one is not chosen yet
    private final int clusters; // -1: no tail estimate; 0: the square root of the indexed keys
    private ClusterTail tail;
    private final AttentionAwareIndex.Params params;
    private AttentionAwareIndex index; // positions [sinks, indexedUpTo)
    private int indexedUpTo;
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
    private long searches;
    private long reuses;

    RetrievalHead(float scale, dev.attend.gpu.Scorer scorer, dev.attend.gpu.VectorStore keys, dev.attend.gpu.VectorStore values, int sinks,
                  int window, int k, boolean recycling, double threshold, int clusters, AttentionAwareIndex.Params params) {
        super(scale, scorer, keys, values);
        this.sinks = sinks;
        this.window = window;
        this.k = k;
        this.recycling = recycling;
        this.threshold = threshold;
        this.clusters = clusters;
        this.params = params;
    }

    @Override
    void prefill(float[][] queries) {
        indexedUpTo = Math.max(sinks, tokens - window);
        int n = indexedUpTo - sinks;
        if (n > 0) {
            float[][] training = queries;
            if (training.length == 0) { // the keys stand in for queries (an index over keys alone, which serves queries worse)
                training = new float[n][];
                for (int i = 0; i < n; i++) {
                    training[i] = keys.row(sinks + i);
                }
            }
            // Over the head's own key rows: the index holds no copy of them.
            index = AttentionAwareIndex.build(params, keys, sinks, indexedUpTo, training, scorer, null);
            if (clusters >= 0) {
                tail = ClusterTail.build(keys, values, sinks, indexedUpTo, clusters, scorer);
            }
            if (recycling && Double.isNaN(threshold)) {
                threshold = calibrate(queries);
            }
        } else {
            indexedUpTo = sinks; // the index will start at the sinks' end when a token first leaves the window
        }
    }

    @Override
    void took() {
        int leaving = tokens + 1 - window - 1; // the position that left the window with this token, once past the sinks
        if (leaving >= sinks && leaving == indexedUpTo) {
            if (index == null) {
                index = AttentionAwareIndex.build(params, keys, leaving, leaving + 1, new float[][] {keys.row(leaving)}, scorer, null);
                if (clusters >= 0) {
                    tail = ClusterTail.build(keys, values, leaving, leaving + 1, clusters, scorer);
                }
                if (recycling && Double.isNaN(threshold)) { // no prefill beyond the static set to calibrate on
                    threshold = HeadPolicy.DEFAULT_RECYCLE_THRESHOLD;
                }
            } else {
                index.addStoredRows(leaving + 1);
                if (tail != null) {
                    tail.add(leaving, keys.row(leaving), values.row(leaving));
                }
            }
            indexedUpTo = leaving + 1;
        }
    }

    @Override
    public PolicyAnswer attend(float[] query, int budget) {
        checkQuery(query, budget);
        if (index == null) {
            return answer(query, new int[0], 0, false);
        }
        if (recycling && lastPool != null && cosine(query, lastSearched) >= threshold) {
            reuses++;
            int[] candidates = candidates(lastPool, poolUpTo);
            lastPool = refreshPool(query, candidates);
            poolUpTo = indexedUpTo;
            long cost = candidates.length;
            return answer(query, java.util.Arrays.copyOf(lastPool, Math.min(k, lastPool.length)), cost, false);
        }
        int[] pool = search(query, budget);
        searches++;
        if (recycling) {
            lastSearched = query.clone();
            poolUpTo = indexedUpTo;
            lastPool = pool;
        }
        return answer(query, pool.length > k ? java.util.Arrays.copyOf(pool, k) : pool, searchedKeys, true);
    }

    /** The distance computations of the latest {@link #search}. */
    private long searchedKeys;

    /** The index's best positions for {@code query} (a pool of {@link #POOL_FACTOR} k when recycling, else k), best first. */
    private int[] search(float[] query, int budget) {
        SearchResult found = index.search(query, recycling ? POOL_FACTOR * k : k, budget);
        int[] ids = new int[found.ids().length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (int) found.ids()[i];
        }
        searchedKeys = found.stats().distanceComputations();
        return ids;
    }

    /**
     * The static set exactly, merged with the {@code retrieved} keys exactly and, with a tail, the estimate of the
     * rest; {@code selectionCost} is what choosing them took (a search's distance computations, or a pool's products).
     */
    private PolicyAnswer answer(float[] query, int[] retrieved, long selectionCost, boolean searched) {
        int n = tokens;
        int upTo = index == null ? Math.min(sinks, n) : indexedUpTo;
        int[] staticSet = staticSet(sinks, upTo, n);
        LogSumExpMerge merge = new LogSumExpMerge(dim);
        AttentionOutput fixed = scorer.attend(query, keys, values, staticSet, scale);
        merge.add(fixed.output(), fixed.logSumExp());
        long scanned = staticSet.length + selectionCost;
        if (index != null) {
            AttentionOutput top = scorer.attend(query, keys, values, retrieved, scale);
            merge.add(top.output(), top.logSumExp());
            scanned += retrieved.length;
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
        float[][] run = java.util.Arrays.copyOfRange(queries, queries.length - c, queries.length);
        int budget = (int) Math.max(2L * POOL_FACTOR * k, Math.ceil(12 * Math.sqrt(indexedUpTo - sinks)));
        int[] everything = staticSet(0, 0, tokens);
        int[][] pools = new int[c][];
        float[][] exact = new float[c][];
        double[] searchedErrors = new double[c];
        for (int i = 0; i < c; i++) {
            pools[i] = search(run[i], budget);
            exact[i] = scorer.attend(run[i], keys, values, everything, scale).output();
            int[] top = java.util.Arrays.copyOf(pools[i], Math.min(k, pools[i].length));
            searchedErrors[i] = AttentionAccuracy.relativeError(answer(run[i], top, 0, true).output(), exact[i]);
        }
        double limit = CALIBRATION_TOLERANCE * median(searchedErrors);
        double chosen = 1.0; // reuse an identical query only
        double[] errors = new double[c];
        for (double candidate : CANDIDATE_THRESHOLDS) {
            int last = 0;
            int[] pool = pools[0];
            for (int i = 0; i < c; i++) {
                if (i > 0 && cosine(run[i], run[last]) >= candidate) {
                    pool = refreshPool(run[i], candidates(pool, indexedUpTo));

                } else {
                    last = i;
                    pool = pools[i];
                }
                int[] retrieved = java.util.Arrays.copyOf(pool, Math.min(k, pool.length));
                errors[i] = AttentionAccuracy.relativeError(answer(run[i], retrieved, 0, false).output(), exact[i]);
            }
            if (median(errors) <= limit) {
                chosen = candidate;
            }
        }
        return chosen;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    @Override
    public double recycleThreshold() {
        return recycling ? threshold : Double.NaN;
    }

    /** The pool for a reusing step: the best {@link #POOL_FACTOR} k of {@link #candidates} for {@code query}, best first. */
    private int[] refreshPool(float[] query, int[] candidates) {
        dev.attend.gpu.TopKCollector best = new dev.attend.gpu.TopKCollector(Math.min(POOL_FACTOR * k, candidates.length));
        for (int position : candidates) {
            best.offer(keys.dot(position, query), position);
        }
        return best.drain().ids();
    }

    /** Positions on either side of a pool's key that a reusing step scores too. */
    static final int NEIGHBOURHOOD = 2;

    /**
     * What a reusing step scores: a pool's keys with their indexed neighbours (up to {@link #NEIGHBOURHOOD} positions
     * either side), and the keys indexed since the pool was made ({@code [since, indexedUpTo)}: a search now would see
     * them), each once, in order.
     */
    private int[] candidates(int[] pool, int since) {
        int[] sorted = pool.clone();
        java.util.Arrays.sort(sorted);
        int[] out = new int[(2 * NEIGHBOURHOOD + 1) * sorted.length + Math.max(0, indexedUpTo - since)];
        int n = 0;
        for (int p : sorted) {
            for (int x = Math.max(sinks, p - NEIGHBOURHOOD); x <= p + NEIGHBOURHOOD && x < indexedUpTo; x++) {
                if (n == 0 || x > out[n - 1]) {
                    out[n++] = x;
                }
            }
        }
        int pooled = n;
        for (int p = Math.max(since, sinks); p < indexedUpTo; p++) {
            if (java.util.Arrays.binarySearch(out, 0, pooled, p) < 0) {
                out[n++] = p;
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    private static double cosine(float[] a, float[] b) {
        double ab = VectorMath.dot(a, 0, b, 0, a.length);
        double aa = VectorMath.dot(a, 0, a, 0, a.length);
        double bb = VectorMath.dot(b, 0, b, 0, b.length);
        return aa == 0 || bb == 0 ? (aa == bb ? 1 : 0) : ab / Math.sqrt(aa * bb);
    }

    @Override
    public long searches() {
        return searches;
    }

    @Override
    public long reuses() {
        return reuses;
    }

    @Override
    public long indexBytes() {
        return (index == null ? 0 : index.memoryBytes()) + (tail == null ? 0 : tail.bytes());
    }
}
