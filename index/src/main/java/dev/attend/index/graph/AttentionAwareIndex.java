package dev.attend.index.graph;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.VectorStore;
import dev.attend.index.AbstractVectorIndex;
import dev.attend.index.SearchResult;
import dev.attend.index.SearchStats;
import dev.attend.index.Similarity;
import dev.attend.index.VectorChecks;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

/**
 * An index for queries that do not look like the indexed vectors (attention queries against keys):
 * a graph over the keys whose edges come from training queries, after RoarGraph's query-to-key
 * projection (RoarGraph, VLDB 2024; RetrievalAttention section 3.2). {@link GraphBuilder} builds and
 * grows the graph, {@link GraphSearcher} searches it: best-first beam search by inner product from entry
 * keys chosen by the mean training query, within a budget of distance computations;
 * {@link AttentionAwareFiles} saves and opens it.
 *
 * <p>The keys are read through {@link GraphVectors}: the index's own rows (given as arrays, stored encoded),
 * or rows of a store the caller keeps ({@link #build(Params, VectorStore, int, int, float[][], Scorer, BiConsumer)}:
 * a KV session's keys, held once; ids are then the rows' positions in that store).
 *
 * <p>It grows online: {@link #add} links a new key by searching for it; {@link #addQueries} projects
 * new training queries. Both keep the graph's degree bound without a rebuild.
 */
public final class AttentionAwareIndex extends AbstractVectorIndex {

    static final String TYPE = "attention-aware";

    /**
     * Build and search parameters.
     *
     * @param pivotsPerQuery        a training query's best keys that link to its other neighbours (half of them in a build
     *                              on a GPU, which links under-linked keys by their exact neighbours)
     * @param buildBeam             beam of the self-search that links a key (online, and under-linked keys of a CPU
     *                              build); on a GPU the exact neighbours an under-linked key links from
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

    private final Params params;
    private final StoreVectors vectors;
    private final NeighborGraph graph;
    private final GraphBuilder builder;
    /** Ids by node: null when every node's id is its store row ({@link #positional}). */
    private volatile long[] ids;
    private final Map<Long, Integer> rowOf;
    private final BitSet removed = new BitSet();
    private volatile int removedCount;

    /** An empty index (inner product unless said otherwise); keys and training queries come with {@link #addAll} and {@link #addQueries}. */
    public AttentionAwareIndex(int dim, Similarity similarity, Params params) {
        this(dim, similarity, params, null, 0);
    }

    /** Over {@code shared} rows from {@code base} (ids are rows), or, with {@code shared} null, over rows of its own. */
    private AttentionAwareIndex(int dim, Similarity similarity, Params params, VectorStore shared, int base) {
        super(dim, similarity);
        this.params = Objects.requireNonNull(params, "params");
        this.vectors = shared != null ? new StoreVectors(shared, base, false)
                : new StoreVectors(new VectorStore(encoding().storedDim(), Precision.FLOAT32), 0, true);
        this.graph = new NeighborGraph(params.maxDegree(), 0);
        this.builder = new GraphBuilder(params, encoding(), vectors, graph);
        this.ids = shared != null ? null : new long[1024];
        this.rowOf = shared != null ? null : new ConcurrentHashMap<>();
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
        checkQueries(trainingQueries, dim);
        synchronized (index) {
            for (int i = 0; i < ids.length; i++) {
                index.appendOwn(ids[i], index.encoding().encodeVector(keys[i]));
            }
            index.buildGraph(trainingQueries, scorer, progress);
        }
        return index;
    }

    /**
     * The same by inner product over rows {@code [from, to)} of {@code keys}, a store the caller keeps and may go on
     * appending to: the index reads the rows where they are (no copy), and a key's id is its row. Later keys join
     * with {@link #addStoredRows}, in row order.
     */
    public static AttentionAwareIndex build(Params params, VectorStore keys, int from, int to, float[][] trainingQueries,
                                            Scorer scorer, BiConsumer<Integer, Integer> progress) {
        Objects.requireNonNull(keys, "keys");
        if (from < 0 || to < from || to > keys.size()) {
            throw new IllegalArgumentException("rows [" + from + ", " + to + ") are not in the store's [0, " + keys.size() + ")");
        }
        checkQueries(trainingQueries, keys.dim());
        AttentionAwareIndex index = new AttentionAwareIndex(keys.dim(), Similarity.DOT_PRODUCT, params, keys, from);
        synchronized (index) {
            index.vectors.setSize(to - from);
            index.buildGraph(trainingQueries, scorer, progress);
        }
        return index;
    }

    private static void checkQueries(float[][] queries, int dim) {
        for (int i = 0; i < queries.length; i++) {
            VectorChecks.checkVector("training query " + i, queries[i], dim);
        }
    }

    private void buildGraph(float[][] trainingQueries, Scorer scorer, BiConsumer<Integer, Integer> progress) {
        int n = vectors.size();
        float[][] training = params.sample(trainingQueries, n);
        int total = training.length + n;
        builder.cacheNorms();
        try {
            builder.project(training, scorer, progress == null ? null : (done, all) -> progress.accept(done, total));
            builder.linkUnreached(scorer, progress == null ? null : linked -> progress.accept(training.length + linked, total));
        } finally {
            builder.dropNorms();
        }
    }

    public Params params() {
        return params;
    }

    @Override
    public int size() {
        return vectors.size() - removedCount;
    }

    /** Whether ids are the rows of a store the caller keeps. */
    private boolean positional() {
        return ids == null;
    }

    /** Appends an encoded key to the index's own rows (the node joins the graph when the caller links it). */
    void appendOwn(long id, float[] encoded) {
        int row = vectors.size();
        if (row == ids.length) {
            ids = Arrays.copyOf(ids, row * 2);
        }
        ids[row] = id;
        rowOf.put(id, row);
        vectors.store().append(encoded);
        vectors.setSize(row + 1);
    }

    private long idOf(int node) {
        long[] i = ids;
        return i == null ? vectors.base() + node : i[node];
    }

    /** The node of {@code id}, or -1 when it is not in the index (or removed). */
    private int nodeOf(long id) {
        if (!positional()) {
            Integer row = rowOf.get(id);
            return row == null ? -1 : row;
        }
        long node = id - vectors.base();
        return node >= 0 && node < vectors.size() && !isRemoved((int) node) ? (int) node : -1;
    }

    /** Adds training queries to a built index: each links its pivot to its neighbours found by search. */
    public synchronized void addQueries(float[][] queries, Scorer scorer) {
        checkQueries(queries, dim());
        builder.project(queries, scorer, null);
    }

    /**
     * Links the store's rows from the index's end up to {@code to} (exclusive), in order, as keys whose ids are their
     * rows: an index built over a store the caller keeps grows as the store does. Returns the rows linked.
     */
    public synchronized int addStoredRows(int to) {
        if (!positional()) {
            throw new IllegalStateException("this index keeps its own rows: add keys with addAll");
        }
        int first = vectors.base() + vectors.size();
        if (to > vectors.store().size()) {
            throw new IllegalArgumentException("row " + (to - 1) + " is not in the store (" + vectors.store().size() + " rows)");
        }
        for (int row = first; row < to; row++) {
            vectors.setSize(row - vectors.base() + 1);
            if (builder.entries().length == 0) {
                builder.updateEntries();
            }
            builder.link(row - vectors.base());
        }
        return Math.max(0, to - first);
    }

    /** Adds keys online (checked, in stored form): each is linked by a search for itself, no rebuild. */
    @Override
    protected void addChecked(long[] newIds, float[][] stored) {
        if (positional()) {
            addStoredKeys(newIds, stored);
            return;
        }
        int first = vectors.size();
        for (int i = 0; i < newIds.length; i++) {
            appendOwn(newIds[i], stored[i]);
            if (builder.entries().length == 0) {
                builder.updateEntries();
            }
            builder.link(first + i);
        }
    }

    /** {@link #addAll} on rows of the caller's store: the ids must be the next rows, and the vectors those rows as stored. */
    private void addStoredKeys(long[] newIds, float[][] given) {
        int next = vectors.base() + vectors.size();
        float[] row = new float[dim()];
        for (int i = 0; i < newIds.length; i++) {
            if (newIds[i] != next + i || next + i >= vectors.store().size()) {
                throw new IllegalArgumentException("id " + newIds[i] + " is not the next row of the store this index reads ("
                        + (next + i) + ", of " + vectors.store().size() + " rows)");
            }
            vectors.store().readRow(next + i, row);
            if (!Arrays.equals(row, given[i])) {
                throw new IllegalArgumentException("the vector given for id " + newIds[i] + " is not the store's row " + newIds[i]);
            }
        }
        addStoredRows(next + newIds.length);
    }

    @Override
    protected void removeChecked(long id) {
        int node = nodeOf(id);
        if (rowOf != null) {
            rowOf.remove(id);
        }
        // The key stays in the graph as a waypoint; it is never returned again.
        synchronized (removed) {
            removed.set(node);
        }
        removedCount++;
    }

    boolean isRemoved(int node) {
        synchronized (removed) {
            return removed.get(node);
        }
    }

    @Override
    public boolean contains(long id) {
        return nodeOf(id) >= 0;
    }

    @Override
    protected SearchResult searchChecked(float[] query, int k, int budget) {
        long start = System.nanoTime();
        if (size() == 0) {
            return new SearchResult(new long[0], new float[0], new SearchStats(0, 0, 0, "graph"));
        }
        float[] q = encoding().encodeQuery(query);
        GraphSearcher searcher = GraphSearcher.forThread();
        int n = vectors.size();
        // A beam of a quarter of the budget: with a narrower one the search stops at a local optimum
        // before spending its budget (measured on bytelm L0H0: recall@100 0.81 instead of 0.69 at 8%).
        // Never wider than the index: the collectors allocate the beam up front.
        int beam = Math.max(1, Math.min(n, Math.max(k, budget / 4)));
        boolean anyRemoved = removedCount > 0;
        TopKCollector found = searcher.search(graph, vectors.scorer(q), n, builder.entries(), beam, k, budget,
                anyRemoved ? this::isRemoved : x -> false);
        TopK top = found.drain();
        int count = Math.min(k, top.size());
        long[] outIds = new long[count];
        float[] scores = new float[count];
        for (int i = 0; i < count; i++) {
            outIds[i] = idOf(top.ids()[i]);
            scores[i] = encoding().decodeScore(top.scores()[i], query);
        }
        return new SearchResult(outIds, scores, new SearchStats(searcher.distanceComputations, searcher.nodesVisited,
                (System.nanoTime() - start) / 1000, "graph"));
    }

    // ------------------------------------------------------------------ persistence

    @Override
    public synchronized void save(Path dir) throws IOException {
        AttentionAwareFiles.save(dir, this);
    }

    /** Opens an index saved by {@link #save} (over rows of its own). */
    public static AttentionAwareIndex open(Path dir) throws IOException {
        return AttentionAwareFiles.open(dir);
    }

    GraphVectors vectors() {
        return vectors;
    }

    NeighborGraph graph() {
        return graph;
    }

    GraphBuilder builder() {
        return builder;
    }

    /** The id of every node (removed ones too), for saving. */
    long[] nodeIds() {
        long[] out = new long[vectors.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = idOf(i);
        }
        return out;
    }

    /** Marks a node of an opened index removed. */
    void markRemoved(long id, int node) {
        rowOf.remove(id);
        removed.set(node);
        removedCount++;
    }

    /** An empty index over rows of its own, for {@link AttentionAwareFiles#open}. */
    static AttentionAwareIndex empty(int dim, Similarity similarity, Params params) {
        return new AttentionAwareIndex(dim, similarity, params);
    }

    @Override
    public long memoryBytes() {
        int n = vectors.size();
        long[] i = ids;
        return vectors.bytes() + graph.memoryBytes() + (i == null ? 0 : 8L * i.length + 64L * rowOf.size());
    }

    /** Average out-degree (for reports). */
    public double averageDegree() {
        int n = vectors.size();
        return n == 0 ? 0 : (double) graph.edges() / n;
    }

    @Override
    public void close() {
    }
}
