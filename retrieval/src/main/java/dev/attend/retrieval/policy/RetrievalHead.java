package dev.attend.retrieval.policy;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.VectorMath;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.internals.LogSumExpMerge;

/**
 * The static set exactly, merged through log-sum-exp with the top k keys an attention-aware index (trained on the
 * prefill's queries) retrieves from the other tokens; a token that leaves the window enters the index. With a
 * recycling threshold, a search keeps a pool of its best {@link #POOL_FACTOR} k keys, and every later query whose
 * cosine with the searched one stays at or above the threshold takes its top k from that pool (the pool's keys
 * scored again: a few hundred products instead of a search); the first query below it is searched, and becomes
 * the one compared with. Re-ranking the pool follows a query that drifts within the pool's neighbourhood, where
 * reusing the last top k as it was would not. With clusters ({@link HeadPolicy.RetrievalTail}), the indexed keys
 * neither retrieved nor static are estimated from their clusters ({@link ClusterTail}) and merged like the exact parts.
 */
final class RetrievalHead extends PolicyHead {

    private final int sinks;
    private final int window;
    private final int k;
    private final double threshold; // NaN: search every query
    private final int clusters; // -1: no tail estimate; 0: the square root of the indexed keys
    private ClusterTail tail;
    private final AttentionAwareIndex.Params params;
    private AttentionAwareIndex index; // positions [sinks, indexedUpTo)
    private int indexedUpTo;
    private float[] lastSearched;
    private int[] lastPool;
    /** The pool a recycling search keeps, in multiples of k (the search's beam is already that wide at the default budget). */
    static final int POOL_FACTOR = 4;
    private long searches;
    private long reuses;

    RetrievalHead(float scale, dev.attend.gpu.Scorer scorer, dev.attend.gpu.VectorStore keys, dev.attend.gpu.VectorStore values, int sinks,
                  int window, int k, double threshold, int clusters, AttentionAwareIndex.Params params) {
        super(scale, scorer, keys, values);
        this.sinks = sinks;
        this.window = window;
        this.k = k;
        this.threshold = threshold;
        this.clusters = clusters;
        this.params = params;
    }

    @Override
    void prefill(float[][] queries) {
        indexedUpTo = Math.max(sinks, tokens - window);
        int n = indexedUpTo - sinks;
        if (n > 0) {
            long[] ids = new long[n];
            float[][] indexed = new float[n][];
            for (int i = 0; i < n; i++) {
                ids[i] = sinks + i;
                indexed[i] = keys.row(sinks + i);
            }
            // Without prefill queries the keys stand in for them (an index over keys alone, which serves queries worse).
            index = AttentionAwareIndex.build(dim, Similarity.DOT_PRODUCT, params, ids, indexed, queries.length > 0 ? queries : indexed,
                    scorer, null);
            if (clusters >= 0) {
                tail = ClusterTail.build(keys, values, sinks, indexedUpTo, clusters, scorer);
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
                index = AttentionAwareIndex.build(dim, Similarity.DOT_PRODUCT, params, new long[] {leaving}, new float[][] {keys.row(leaving)},
                        new float[][] {keys.row(leaving)}, scorer, null);
                if (clusters >= 0) {
                    tail = ClusterTail.build(keys, values, leaving, leaving + 1, clusters, scorer);
                }
            } else {
                index.addAll(new long[] {leaving}, new float[][] {keys.row(leaving)});
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
        int n = tokens;
        int upTo = index == null ? Math.min(sinks, n) : indexedUpTo;
        int[] staticSet = staticSet(sinks, upTo, n);
        LogSumExpMerge merge = new LogSumExpMerge(dim);
        AttentionOutput fixed = scorer.attend(query, keys, values, staticSet, scale);
        merge.add(fixed.output(), fixed.logSumExp());
        long scanned = staticSet.length;
        boolean searched = false;
        int[] retrieved = new int[0];
        if (index != null) {
            boolean recycling = !Double.isNaN(threshold);
            if (recycling && lastPool != null && cosine(query, lastSearched) >= threshold) {
                retrieved = topOfPool(query);
                scanned += lastPool.length;
                reuses++;
            } else {
                SearchResult found = index.search(query, recycling ? POOL_FACTOR * k : k, budget);
                int[] ids = new int[found.ids().length];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = (int) found.ids()[i];
                }
                retrieved = ids.length > k ? java.util.Arrays.copyOf(ids, k) : ids; // best first
                scanned += found.stats().distanceComputations();
                searched = true;
                searches++;
                if (recycling) {
                    lastSearched = query.clone();
                    lastPool = ids;
                }
            }
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

    /** The k keys of the last pool that score best against {@code query}. */
    private int[] topOfPool(float[] query) {
        dev.attend.gpu.TopKCollector best = new dev.attend.gpu.TopKCollector(Math.min(k, lastPool.length));
        for (int position : lastPool) {
            best.offer(keys.dot(position, query), position);
        }
        return best.drain().ids();
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
