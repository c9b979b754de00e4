package dev.attend.index.graph;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorMath;
import dev.attend.gpu.VectorStore;
import dev.attend.index.IndexFiles;
import dev.attend.index.SearchResult;
import dev.attend.index.SearchStats;
import dev.attend.index.Similarity;
import dev.attend.index.SimilarityEncoding;
import dev.attend.index.VectorChecks;
import dev.attend.index.VectorIndex;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * An index for queries that do not look like the indexed vectors (attention queries against keys):
 * a graph over the keys whose edges come from training queries, after RoarGraph's query-to-key
 * projection (RoarGraph, VLDB 2024; RetrievalAttention section 3.2).
 *
 * <p>Build: the exact top-{@code Nq} keys of every training query (the prefill queries) come from the
 * gpu {@link Scorer} in batches; the query's best key (its pivot) links to the others, pruned by
 * occlusion to {@code M} neighbours; reverse edges follow; keys that no query reached are linked
 * through a beam search with themselves as the query. Search: best-first beam search by inner product
 * from entry keys chosen by the mean training query, within a budget of distance computations.
 *
 * <p>It grows online: {@link #add} links a new key by searching for it; {@link #addQueries} projects
 * new training queries. Both keep the graph's degree bound without a rebuild.
 */
public final class AttentionAwareIndex implements VectorIndex {

    static final String TYPE = "attention-aware";

    /**
     * Build and search parameters.
     *
     * @param trainingQueriesPerKey training queries a build projects per key, evenly spaced over those given (0: all)
     */
    public record Params(int maxDegree, int queryNeighbors, int pivotsPerQuery, int buildBeam, int entryPoints,
                         double trainingQueriesPerKey) {

        /**
         * Training queries per key unless said otherwise: a quarter. The exact top-k of every prefill query costs as
         * much as the prefill's own attention; a quarter keeps the model's bits per byte (bench/RESULTS.md).
         */
        public static final double DEFAULT_TRAINING_QUERIES_PER_KEY = 0.25;

        /**
         * M = 24, top-100 keys per training query, its best 16 keys as pivots, build beam 64, 4 entry
         * keys. Recall@100 at 8% of the keys on bytelm L0H0 / L5H4 for M = 16, 24, 32, 48, 64 (16
         * pivots): 0.945 / 0.943, 0.954 / 0.945, 0.956 / 0.940, 0.954 / 0.931, - / 0.922; on minilm
         * L3H3 at 3%: 0.960 with M = 24 against 0.955 with M = 48. Under a budget every neighbour of an
         * expanded key costs one distance computation, so beyond 24 more edges cost more than they
         * route. Pivots (8, 16, 32) and top-200 instead of top-100 changed L5H4 by less than 0.001.
         */
        public static Params defaults() {
            return new Params(24, 100, 16, 64, 4);
        }

        /** With {@link #DEFAULT_TRAINING_QUERIES_PER_KEY}. */
        public Params(int maxDegree, int queryNeighbors, int pivotsPerQuery, int buildBeam, int entryPoints) {
            this(maxDegree, queryNeighbors, pivotsPerQuery, buildBeam, entryPoints, DEFAULT_TRAINING_QUERIES_PER_KEY);
        }

        public Params {
            if (maxDegree < 2 || queryNeighbors < 2 || pivotsPerQuery < 1 || buildBeam < 1 || entryPoints < 1
                    || !(trainingQueriesPerKey >= 0) || Double.isInfinite(trainingQueriesPerKey)) {
                throw new IllegalArgumentException("bad graph parameters: M=" + maxDegree + ", Nq=" + queryNeighbors
                        + ", pivots=" + pivotsPerQuery + ", beam=" + buildBeam + ", entries=" + entryPoints
                        + ", training queries per key=" + trainingQueriesPerKey);
            }
        }

        /** The same with other degree and pivots (for tuning runs). */
        public Params with(int maxDegree, int pivotsPerQuery) {
            return new Params(maxDegree, queryNeighbors, pivotsPerQuery, buildBeam, entryPoints, trainingQueriesPerKey);
        }

        /** The same with another number of training queries per key (0: all). */
        public Params withTrainingQueriesPerKey(double perKey) {
            return new Params(maxDegree, queryNeighbors, pivotsPerQuery, buildBeam, entryPoints, perKey);
        }

        /** How many of {@code given} training queries a build over {@code keys} keys projects. */
        public int trainingQueries(int given, int keys) {
            return trainingQueriesPerKey == 0 ? given : (int) Math.min(given, Math.ceil(trainingQueriesPerKey * keys));
        }

        /** {@link #trainingQueries} of {@code queries}, evenly spaced. */
        float[][] sample(float[][] queries, int keys) {
            int want = trainingQueries(queries.length, keys);
            if (want == queries.length) {
                return queries;
            }
            float[][] chosen = new float[want][];
            for (int i = 0; i < chosen.length; i++) {
                chosen[i] = queries[(int) ((long) i * queries.length / chosen.length)];
            }
            return chosen;
        }
    }

    private final SimilarityEncoding encoding;
    private final Params params;
    private final VectorStore keys;
    private final NeighborGraph graph;
    private volatile long[] ids = new long[1024];
    private final Map<Long, Integer> rowOf = new ConcurrentHashMap<>();
    private final BitSet removed = new BitSet();
    private volatile int removedCount;
    private volatile int[] entries = new int[0];
    /** Sum of the training queries seen, for the entry points. */
    private final double[] querySum;
    private long queryCount;
    private final ThreadLocal<GraphSearcher> searchers = ThreadLocal.withInitial(GraphSearcher::new);
    /** A slot per key for {@link CandidateLists#distinct}, per build thread. */
    private final ThreadLocal<boolean[]> seenScratch = ThreadLocal.withInitial(() -> new boolean[0]);

    /** An empty index (inner product unless said otherwise); keys and training queries come with {@link #addAll} and {@link #addQueries}. */
    public AttentionAwareIndex(int dim, Similarity similarity, Params params) {
        if (dim < 1) {
            throw new IllegalArgumentException("dimension must be >= 1, got " + dim);
        }
        this.encoding = new SimilarityEncoding(Objects.requireNonNull(similarity, "similarity"), dim);
        this.params = Objects.requireNonNull(params, "params");
        this.keys = new VectorStore(encoding.storedDim(), Precision.FLOAT32);
        this.graph = new NeighborGraph(params.maxDegree(), 1024);
        this.querySum = new double[encoding.storedDim()];
    }

    /**
     * Builds the graph over {@code keys} (ids {@code ids}) from {@code trainingQueries}, computing
     * their exact neighbours on {@code scorer}. {@code progress} receives (done, total) as the build
     * goes, in steps of work: one per training query projected, then one per key linked, so
     * {@code total = trainingQueries.length + keys.length}.
     */
    public static AttentionAwareIndex build(int dim, Similarity similarity, Params params, long[] ids, float[][] keys,
                                            float[][] trainingQueries, Scorer scorer,
                                            BiConsumer<Integer, Integer> progress) {
        AttentionAwareIndex index = new AttentionAwareIndex(dim, similarity, params);
        VectorChecks.checkBatch(ids, keys, dim);
        for (int i = 0; i < trainingQueries.length; i++) {
            VectorChecks.checkVector("training query " + i, trainingQueries[i], dim);
        }
        synchronized (index) {
            for (int i = 0; i < ids.length; i++) {
                index.appendKey(ids[i], index.encoding.encodeVector(keys[i]));
            }
            float[][] training = params.sample(trainingQueries, keys.length);
            int total = training.length + keys.length;
            index.project(training, scorer, progress == null ? null : (done, all) -> progress.accept(done, total));
            index.linkUnreached(0, progress == null ? null : linked -> progress.accept(training.length + linked, total));
        }
        return index;
    }

    @Override
    public int dim() {
        return encoding.dim();
    }

    @Override
    public Similarity similarity() {
        return encoding.similarity();
    }

    public Params params() {
        return params;
    }

    @Override
    public int size() {
        return keys.size() - removedCount;
    }

    private void appendKey(long id, float[] encoded) {
        int row = keys.size();
        if (row == ids.length) {
            ids = Arrays.copyOf(ids, row * 2);
        }
        ids[row] = id;
        rowOf.put(id, row);
        keys.append(encoded);
    }

    // ------------------------------------------------------------------ projection (build)

    /**
     * Candidate entries held before the pivots' lists are compacted (256 MiB): a million training
     * queries with 16 pivots of 100 keys each would otherwise hold 6.4 GB at once. Compaction drops
     * repeats; only when that frees less than half are the lists merged into the graph and pruned
     * early, which loses a little (bytelm L0H0: recall@100 0.948 instead of 0.952 at 8%), because
     * a pruned list no longer competes with the candidates that arrive later.
     */
    private static final int CANDIDATE_FLUSH_ENTRIES = 1 << 26;
    /** Candidates in angle order that pruning considers, per unit of degree (fewer cost recall; bench/RESULTS.md). */
    private static final int PRUNE_DEPTH = 16;
    /** Keys linked by self-search per round: searches of a round run in parallel on the graph as it was before it. */
    private static final int LINK_ROUND = 1024;

    /** Links keys through the exact neighbours of {@code queries}: pivot -> the query's other neighbours. */
    private void project(float[][] queries, Scorer scorer, BiConsumer<Integer, Integer> progress) {
        int n = keys.size();
        if (n == 0 || queries.length == 0) {
            return;
        }
        int nq = Math.min(params.queryNeighbors(), n);
        int batch = 256;
        float[][] encodedBatch = new float[0][];
        // Candidate lists per pivot, merged and pruned together: several queries share a pivot.
        CandidateLists candidates = new CandidateLists(n);
        for (int from = 0; from < queries.length; from += batch) {
            int m = Math.min(batch, queries.length - from);
            if (encodedBatch.length != m) {
                encodedBatch = new float[m][];
            }
            for (int j = 0; j < m; j++) {
                encodedBatch[j] = encoding.encodeQuery(queries[from + j]);
                for (int c = 0; c < querySum.length; c++) {
                    querySum[c] += encodedBatch[j][c];
                }
            }
            queryCount += m;
            TopKResult top = scorer.topK(encodedBatch, keys, nq);
            for (int j = 0; j < m; j++) {
                TopK t = top.perQuery().get(j);
                if (t.size() < 2) {
                    continue;
                }
                // The query's best keys (pivots) each link to the rest of its list: keys that one
                // attention query wants together become neighbours.
                for (int p = 0; p < Math.min(params.pivotsPerQuery(), t.size()); p++) {
                    candidates.add(t.ids()[p], t.ids(), t.size());
                }
            }
            if (candidates.entries() >= CANDIDATE_FLUSH_ENTRIES && candidates.compact() >= CANDIDATE_FLUSH_ENTRIES / 2) {
                linkPivots(candidates);
            }
            if (progress != null) {
                progress.accept(Math.min(from + m, queries.length), queries.length);
            }
        }
        linkPivots(candidates);
        updateEntries();
    }


    /** Merges each pivot's candidates into its list (pruned), adds the reverse edges, and empties {@code candidates}. */
    private void linkPivots(CandidateLists candidates) {
        int[] pivots = candidates.nodes();
        if (pivots.length == 0) {
            return;
        }
        int n = keys.size();
        graph.ensure(n);
        // Pivots are pruned independently of each other: in parallel.
        IntStream.range(0, pivots.length).parallel().forEach(i -> {
            int pivot = pivots[i];
            boolean[] seen = seenScratch.get();
            if (seen.length < n) {
                seen = new boolean[n];
                seenScratch.set(seen);
            }
            int[] distinct = candidates.distinct(pivot, seen);
            int[] merged = mergeDistinct(graph.neighbors(pivot), distinct, distinct.length, pivot);
            graph.set(pivot, merged.length <= params.maxDegree() ? merged : prune(pivot, merged));
        });
        candidates.clear();
        int[][] lists = new int[pivots.length][];
        for (int i = 0; i < pivots.length; i++) {
            lists[i] = graph.neighbors(pivots[i]);
        }
        addReverseEdges(pivots, lists);
    }

    /**
     * For every i, adds the edges {@code lists[i][j] -> sources[i]}: the in-edges are gathered per
     * target first, so each target's list is merged and pruned once, in parallel over targets.
     */
    private void addReverseEdges(int[] sources, int[][] lists) {
        int n = keys.size();
        graph.ensure(n);
        int[] start = new int[n + 1];
        for (int[] list : lists) {
            for (int target : list) {
                start[target + 1]++;
            }
        }
        for (int i = 0; i < n; i++) {
            start[i + 1] += start[i];
        }
        int[] fill = Arrays.copyOf(start, n);
        int[] in = new int[start[n]];
        for (int i = 0; i < lists.length; i++) {
            for (int target : lists[i]) {
                in[fill[target]++] = sources[i];
            }
        }
        IntStream.range(0, n).parallel().forEach(node -> {
            int count = start[node + 1] - start[node];
            if (count == 0) {
                return;
            }
            int[] merged = mergeDistinct(graph.neighbors(node), Arrays.copyOfRange(in, start[node], start[node + 1]), count, node);
            graph.set(node, merged.length <= params.maxDegree() ? merged : prune(node, merged));
        });
    }

    /** Adds training queries to a built index: each links its pivot to its neighbours found by search. */
    public synchronized void addQueries(float[][] queries, Scorer scorer) {
        for (int i = 0; i < queries.length; i++) {
            VectorChecks.checkVector("training query " + i, queries[i], dim());
        }
        project(queries, scorer, null);
    }

    /** The distinct values of {@code a} and of the first {@code bCount} of {@code b}, without {@code exclude}, ascending. */
    private static int[] mergeDistinct(int[] a, int[] b, int bCount, int exclude) {
        int[] all = new int[a.length + bCount];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, bCount);
        Arrays.sort(all);
        int n = 0;
        for (int i = 0; i < all.length; i++) {
            int x = all[i];
            if (x != exclude && (n == 0 || all[n - 1] != x)) {
                all[n++] = x;
            }
        }
        return n == all.length ? all : Arrays.copyOf(all, n);
    }

    /**
     * Occlusion pruning: candidates in order of angle to {@code node}; a candidate p is dropped when
     * an already kept r is closer to p than {@code node} is (the edge node->r already leads towards
     * p), in Euclidean distance or in angle. Attention scores are |q||k|cos: keys of one direction but
     * different norms are far apart in Euclidean terms yet rank alike for every query, and keys of
     * similar norm differ by angle only; dropping what either measure occludes keeps the list spread
     * over both. (Recall@100 at 8% on bytelm L0H0 / L5H4 with Euclidean only: 0.954 / 0.945; angle
     * only: 0.949 / 0.955; either: 0.955 / 0.949; both required: 0.947 / 0.955.)
     */
    private int[] prune(int node, int[] candidates) {
        int m = params.maxDegree();
        int c = candidates.length;
        if (c == 0) {
            return candidates;
        }
        int dim = keys.dim();
        // The candidates' rows side by side, so the pairwise products read one array.
        float[] rows = new float[(c + 1) * dim];
        keys.readRow(node, rows, c * dim);
        float nodeNorm = VectorMath.dot(rows, c * dim, rows, c * dim, dim);
        float[] dist = new float[c];
        float[] angle = new float[c]; // 1 - cosine
        float[] norms = new float[c];
        long[] order = new long[c];
        for (int i = 0; i < c; i++) {
            keys.readRow(candidates[i], rows, i * dim);
            norms[i] = VectorMath.dot(rows, i * dim, rows, i * dim, dim);
            float ip = VectorMath.dot(rows, c * dim, rows, i * dim, dim);
            dist[i] = nodeNorm + norms[i] - 2 * ip;
            angle[i] = 1 - ip / (float) Math.sqrt(Math.max(nodeNorm * norms[i], 1e-30f));
            order[i] = ((long) sortableBits(angle[i]) << 32) | i;
        }
        Arrays.sort(order);
        int[] kept = new int[Math.min(m, c)];
        int[] keptIdx = new int[kept.length];
        int count = 0;
        // A key that many queries reach gathers thousands of candidates; past the nearest PRUNE_DEPTH x M the
        // occlusion test (M products each) rarely keeps one.
        int considered = Math.min(c, PRUNE_DEPTH * m);
        for (int oi = 0; oi < considered && count < kept.length; oi++) {
            int i = (int) order[oi];
            boolean occluded = false;
            for (int r = 0; r < count && !occluded; r++) {
                int j = keptIdx[r];
                float ip = VectorMath.dot(rows, i * dim, rows, j * dim, dim);
                boolean byDistance = norms[i] + norms[j] - 2 * ip < dist[i];
                boolean byAngle = 1 - ip / (float) Math.sqrt(Math.max(norms[i] * norms[j], 1e-30f)) < angle[i];
                occluded = byDistance || byAngle;
            }
            if (!occluded) {
                keptIdx[count] = i;
                kept[count++] = candidates[i];
            }
        }
        if (count < kept.length / 2) {
            // Too few survive (points in a line): fill with the nearest dropped ones, as NSG/Vamana's alpha does.
            for (int oi = 0; oi < c && count < kept.length / 2; oi++) {
                int cand = candidates[(int) order[oi]];
                boolean in = false;
                for (int r = 0; r < count; r++) {
                    in |= kept[r] == cand;
                }
                if (!in) {
                    kept[count++] = cand;
                }
            }
        }
        return Arrays.copyOf(kept, count);
    }

    /** An int that orders like {@code f} (for sorting floats packed in longs). */
    private static int sortableBits(float f) {
        int bits = Float.floatToIntBits(f);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }

    /** Adds the edge from -> to, pruning from's list when it is full. */
    private void addReverse(int from, int to) {
        int[] list = graph.neighbors(from);
        for (int x : list) {
            if (x == to) {
                return;
            }
        }
        if (list.length < params.maxDegree()) {
            graph.set(from, NeighborGraph.append(list, to));
        } else {
            graph.set(from, prune(from, NeighborGraph.append(list, to)));
        }
    }

    /**
     * Connectivity: every key from {@code from} on that the projection left with fewer than M/2 edges
     * searches for itself and links to what it finds (merged with its projection edges, pruned), then
     * the reverse edges follow in one pass. Keys no training query reached get their only edges here
     * (searching for every key cost as much as the projection and gained no recall). Rounds of keys search in parallel on the graph as it stood before the
     * round, so the result does not depend on the number of threads.
     */
    private void linkUnreached(int from, IntConsumer linkedSoFar) {
        int n = keys.size();
        if (entries.length == 0) {
            updateEntries();
        }
        graph.ensure(n);
        int wellLinked = params.maxDegree() / 2;
        int[] nodes = new int[n - from];
        int[][] lists = new int[n - from][];
        int linked = 0;
        for (int round = from; round < n; round += LINK_ROUND) {
            int first = round;
            int count = Math.min(LINK_ROUND, n - round);
            int[][] found = new int[count][];
            IntStream.range(0, count).parallel().forEach(i -> {
                if (graph.neighbors(first + i).length < wellLinked) {
                    found[i] = searchFor(first + i);
                }
            });
            IntStream.range(0, count).parallel().forEach(i -> {
                if (found[i] != null) {
                    int node = first + i;
                    int[] cands = mergeDistinct(graph.neighbors(node), found[i], found[i].length, node);
                    graph.set(node, cands.length <= params.maxDegree() ? cands : prune(node, cands));
                }
            });
            for (int i = 0; i < count; i++) {
                if (found[i] != null) {
                    nodes[linked] = first + i;
                    lists[linked++] = graph.neighbors(first + i);
                }
            }
            if (linkedSoFar != null) {
                linkedSoFar.accept(first + count - from);
            }
        }
        addReverseEdges(Arrays.copyOf(nodes, linked), Arrays.copyOf(lists, linked));
    }

    /** The keys a beam search with key {@code node} as the query finds (itself excluded). */
    private int[] searchFor(int node) {
        float[] vec = keys.row(node);
        TopKCollector found = searchers.get().search(graph, keys, vec, entries, params.buildBeam(), params.buildBeam(), Long.MAX_VALUE,
                x -> x == node);
        return found.drain().ids();
    }

    /** Links {@code node} to the keys a search with the node itself as the query finds; returns its new list. */
    private int[] linkBySearch(int node) {
        int[] found = searchFor(node);
        int[] cands = mergeDistinct(graph.neighbors(node), found, found.length, node);
        int[] kept = cands.length <= params.maxDegree() ? cands : prune(node, cands);
        graph.set(node, kept);
        return kept;
    }

    /** Connects a new key and adds its reverse edges. */
    private void link(int node) {
        for (int nb : linkBySearch(node)) {
            addReverse(nb, node);
        }
    }

    private void updateEntries() {
        int n = keys.size();
        if (n == 0) {
            entries = new int[0];
            return;
        }
        // Entry keys: the best keys for the mean training query (or any key, before queries exist),
        // so that searches start where attention queries point rather than at the keys' centre.
        float[] mean = new float[querySum.length];
        if (queryCount > 0) {
            for (int c = 0; c < mean.length; c++) {
                mean[c] = (float) (querySum[c] / queryCount);
            }
        }
        int want = Math.min(params.entryPoints(), n);
        TopKCollector best = new TopKCollector(want);
        int stride = Math.max(1, n / 20_000);
        for (int i = 0; i < n; i += stride) {
            best.offer(queryCount > 0 ? keys.dot(i, mean) : -i, i);
        }
        // Plus an even sample of keys: every search scores them first, so that a query far from the
        // mean query still starts near its own region (sqrt(n)/8 of them, 8 to 128: each costs a
        // distance computation of every search; sqrt(n)/2 cost bytelm L5H4 0.004 of recall at 8%).
        int probes = (int) Math.min(n, Math.max(8, Math.min(128, Math.sqrt(n) / 8)));
        int[] chosen = best.drain().ids();
        LinkedHashSet<Integer> all = new LinkedHashSet<>();
        for (int e : chosen) {
            all.add(e);
        }
        for (int i = 0; i < probes; i++) {
            all.add((int) ((long) i * n / probes));
        }
        entries = all.stream().mapToInt(Integer::intValue).toArray();
    }

    // ------------------------------------------------------------------ VectorIndex


    /** Adds keys online: each is linked by a search for itself, no rebuild. */
    @Override
    public synchronized void addAll(long[] newIds, float[][] vectors) {
        VectorChecks.checkBatch(newIds, vectors, dim());
        float[][] encoded = new float[vectors.length][];
        for (int i = 0; i < newIds.length; i++) {
            if (rowOf.containsKey(newIds[i])) {
                throw new IllegalArgumentException("id " + newIds[i] + " is already in the index");
            }
            encoded[i] = encoding.encodeVector(vectors[i]);
        }
        int first = keys.size();
        for (int i = 0; i < newIds.length; i++) {
            appendKey(newIds[i], encoded[i]);
            if (entries.length == 0) {
                updateEntries();
            }
            link(first + i);
        }
    }

    @Override
    public synchronized void remove(long id) {
        Integer row = rowOf.remove(id);
        if (row == null) {
            throw new IllegalArgumentException("id " + id + " is not in the index");
        }
        // The key stays in the graph as a waypoint; it is never returned again.
        synchronized (removed) {
            removed.set(row);
        }
        removedCount++;
    }

    private boolean isRemoved(int row) {
        synchronized (removed) {
            return removed.get(row);
        }
    }

    @Override
    public boolean contains(long id) {
        return rowOf.containsKey(id);
    }

    @Override
    public SearchResult search(float[] query, int k, int budget) {
        VectorChecks.checkSearch(query, dim(), k, budget);
        long start = System.nanoTime();
        if (size() == 0) {
            return new SearchResult(new long[0], new float[0], new SearchStats(0, 0, 0, "graph"));
        }
        float[] q = encoding.encodeQuery(query);
        GraphSearcher searcher = searchers.get();
        // A beam of a quarter of the budget: with a narrower one the search stops at a local optimum
        // before spending its budget (measured on bytelm L0H0: recall@100 0.81 instead of 0.69 at 8%).
        // Never wider than the index: the collectors allocate the beam up front.
        int beam = Math.max(1, Math.min(keys.size(), Math.max(k, budget / 4)));
        boolean anyRemoved = removedCount > 0;
        TopKCollector found = searcher.search(graph, keys, q, entries, beam, k, budget,
                anyRemoved ? this::isRemoved : x -> false);
        TopK top = found.drain();
        int count = Math.min(k, top.size());
        long[] outIds = new long[count];
        float[] scores = new float[count];
        long[] rowIds = ids;
        for (int i = 0; i < count; i++) {
            outIds[i] = rowIds[top.ids()[i]];
            scores[i] = encoding.decodeScore(top.scores()[i], query);
        }
        return new SearchResult(outIds, scores, new SearchStats(searcher.distanceComputations, searcher.nodesVisited,
                (System.nanoTime() - start) / 1000, "graph"));
    }

    // ------------------------------------------------------------------ persistence

    @Override
    public synchronized void save(Path dir) throws IOException {
        int n = keys.size();
        Properties meta = new Properties();
        meta.setProperty("dim", Integer.toString(dim()));
        meta.setProperty("similarity", similarity().name());
        meta.setProperty("rows", Integer.toString(n));
        meta.setProperty("maxDegree", Integer.toString(params.maxDegree()));
        meta.setProperty("queryNeighbors", Integer.toString(params.queryNeighbors()));
        meta.setProperty("pivotsPerQuery", Integer.toString(params.pivotsPerQuery()));
        meta.setProperty("buildBeam", Integer.toString(params.buildBeam()));
        meta.setProperty("entryPoints", Integer.toString(params.entryPoints()));
        meta.setProperty("trainingQueriesPerKey", Double.toString(params.trainingQueriesPerKey()));
        meta.setProperty("queryCount", Long.toString(queryCount));
        int storedDim = encoding.storedDim();
        Map<String, IndexFiles.Content> files = new LinkedHashMap<>();
        files.put("keys", out -> {
            float[] row = new float[storedDim];
            for (int i = 0; i < n; i++) {
                out.writeLong(ids[i]);
                out.writeBoolean(isRemoved(i));
                keys.readRow(i, row);
                for (float x : row) {
                    out.writeFloat(x);
                }
            }
        });
        files.put("graph", out -> {
            for (int i = 0; i < n; i++) {
                int[] nb = graph.neighbors(i);
                out.writeShort(nb.length);
                for (int x : nb) {
                    out.writeInt(x);
                }
            }
            for (double v : querySum) {
                out.writeDouble(v);
            }
        });
        IndexFiles.commit(dir, TYPE, meta, files);
    }

    /** Opens an index saved by {@link #save}. */
    public static AttentionAwareIndex open(Path dir) throws IOException {
        IndexFiles.Generation g = IndexFiles.open(dir, TYPE);
        Params params = new Params(Integer.parseInt(g.require("maxDegree")), Integer.parseInt(g.require("queryNeighbors")),
                Integer.parseInt(g.require("pivotsPerQuery")), Integer.parseInt(g.require("buildBeam")),
                Integer.parseInt(g.require("entryPoints")), Double.parseDouble(g.optional("trainingQueriesPerKey", Double.toString(Params.DEFAULT_TRAINING_QUERIES_PER_KEY))));
        AttentionAwareIndex index = new AttentionAwareIndex(Integer.parseInt(g.require("dim")),
                Similarity.valueOf(g.require("similarity")), params);
        int n = Integer.parseInt(g.require("rows"));
        int storedDim = index.encoding.storedDim();
        try (DataInputStream in = g.read("keys", (long) n * (9 + 4L * storedDim))) {
            float[] row = new float[storedDim];
            for (int i = 0; i < n; i++) {
                long id = in.readLong();
                boolean gone = in.readBoolean();
                for (int c = 0; c < storedDim; c++) {
                    row[c] = in.readFloat();
                }
                index.appendKey(id, row.clone());
                if (gone) {
                    index.rowOf.remove(id);
                    index.removed.set(i);
                    index.removedCount++;
                }
            }
        }
        try (DataInputStream in = g.read("graph", -1)) {
            for (int i = 0; i < n; i++) {
                int degree = in.readShort();
                if (degree < 0 || degree > params.maxDegree()) {
                    throw new IOException(g.file("graph") + ": node " + i + " has degree " + degree);
                }
                int[] nb = new int[degree];
                for (int j = 0; j < degree; j++) {
                    nb[j] = in.readInt();
                    if (nb[j] < 0 || nb[j] >= n) {
                        throw new IOException(g.file("graph") + ": node " + i + " links to " + nb[j] + ", outside [0, " + n + ")");
                    }
                }
                index.graph.set(i, nb);
            }
            for (int c = 0; c < storedDim; c++) {
                index.querySum[c] = in.readDouble();
            }
        }
        index.queryCount = Long.parseLong(g.require("queryCount"));
        index.updateEntries();
        return index;
    }

    @Override
    public long memoryBytes() {
        int n = keys.size();
        return keys.bytes() + graph.memoryBytes(n) + 8L * ids.length + 64L * rowOf.size();
    }

    /** Average out-degree (for reports). */
    public double averageDegree() {
        int n = keys.size();
        return n == 0 ? 0 : (double) graph.edges() / n;
    }

    @Override
    public void close() {
    }
}
