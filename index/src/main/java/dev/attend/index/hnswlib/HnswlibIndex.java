package dev.attend.index.hnswlib;

import com.github.jelmerk.hnswlib.core.hnsw.HnswIndex;
import dev.attend.index.AbstractVectorIndex;
import dev.attend.index.IndexFiles;
import dev.attend.index.SearchResult;
import dev.attend.index.SearchStats;
import dev.attend.index.Similarity;
import java.io.BufferedInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * HNSW (Malkov and Yashunin) through the Hnswlib Java port {@code com.github.jelmerk:hnswlib-core}, in
 * pure Java, with distances on the Vector API ({@link HnswDistance}).
 *
 * <p><b>Why this binding.</b> The issue names two: jelmerk's pure-Java port (1.2.1) and
 * {@code com.stepstone.search.hnswlib.jna:hnswlib-jna} 1.4.0 (native hnswlib 0.4.0 through JNA). Measured
 * on the development machine (2 vCPUs shared with other work, load 3 to 4; 100,000 x 128 Gaussian
 * vectors, inner product, M = 16, efConstruction = 100, 2 build threads, 500 queries, recall@10 against
 * the exact top 10):
 * <table>
 *   <caption>hnswlib-jna against jelmerk hnswlib-core through this class</caption>
 *   <tr><th></th><th>hnswlib-jna</th><th>jelmerk (HnswlibIndex)</th></tr>
 *   <tr><td>build</td><td>110 s</td><td>227 s</td></tr>
 *   <tr><td>ef = 50: recall, latency</td><td>0.21, 0.37 ms</td><td>0.20, 1.4 ms, 1,548 distances</td></tr>
 *   <tr><td>ef = 100</td><td>0.34, 1.1 ms</td><td>0.34, 3.0 ms, 2,894 distances</td></tr>
 *   <tr><td>ef = 200</td><td>0.51, 1.8 ms</td><td>0.50, 5.5 ms, 5,169 distances</td></tr>
 *   <tr><td>ef = 400</td><td>0.70, 4.5 ms</td><td>0.69, 9.5 ms, 9,307 distances</td></tr>
 *   <tr><td>distance computations</td><td>not reported</td><td>exact, per search</td></tr>
 * </table>
 * (Uniform Gaussian data in 128 dimensions is the hard case for recall; it serves here for speed.) The
 * native library builds about twice as fast and answers two to three times faster at the same ef, with
 * the same recall. This class uses jelmerk nevertheless, because only there can the index do what Attend
 * measures and promises:
 * <ul>
 *   <li><b>exact distance computations</b>: the distance function is ours, so {@link SearchStats} reports
 *       exactly how many vectors a search scored, and the budget is a hard cap (hnswlib-jna only takes an
 *       {@code ef} and reports nothing);
 *   <li><b>per-query search width</b> without shared state: {@code findNearest(q, ef)} searches with
 *       {@code max(ef, k)}, so concurrent searches with different budgets do not race on a global
 *       {@code setEf} (hnswlib-jna's only knob);
 *   <li><b>growth and removal</b>: the graph grows past its initial capacity ({@code resize}) and removes
 *       ids; hnswlib-jna 1.4.0 fixes the capacity at {@code initialize} (no resize) and has only
 *       {@code markDeleted} with {@code int} labels;
 *   <li>no native library extracted to {@code java.io.tmpdir} at run time.
 * </ul>
 *
 * <p><b>Budget.</b> {@code ef = clamp(budget / 4, k, min(size(), max(k, 8192)))} (the same rule as
 * the other graph indexes: a search converges after scoring about four vectors per slot of its list,
 * so a narrower list stops before it has spent the budget), and the search asks hnswlib for its best
 * {@code ef} and keeps the best {@code k}.
 * The budget is also a hard cap, enforced by the distance function: past it the search sees only infinite
 * distances and stops with what it has (this binds at small {@code ef}, where the descent through the
 * upper levels is a larger share). Vectors whose distance the cap left uncomputed are never returned. {@link SearchStats#distanceComputations()} is exact, counting the greedy
 * descent through the upper levels too; {@code nodesVisited} is -1 (the library does not say).
 *
 * <p><b>Similarities.</b> Inner product searches by {@code -q.v} (hnswlib's "ip" space, a non-metric
 * distance that HNSW handles in practice), cosine stores unit vectors and searches by {@code 1 - q.v}, and
 * Euclidean by {@code |q - v|^2}; scores are converted back to {@link Similarity}'s convention.
 *
 * <p><b>Concurrency.</b> Writes are serialised; hnswlib-core lets searches run during an insert (it locks
 * nodes, not the graph). Growing the capacity (doubling) replaces the library's arrays, so it takes a
 * write lock that searches hold for reading. Large batches ({@link #addAll} of at least 1,024 vectors)
 * are inserted by one thread per core.
 *
 * <p><b>Removal.</b> A removed vector stays in the graph as a waypoint (as in hnswlib): searches still pass
 * through it and count its distance, but never return it. Its id can be added again.
 *
 * <p><b>Save.</b> {@link IndexFiles}: {@code meta.properties.<gen>} and {@code graph.<gen>} (hnswlib-core's
 * own serialisation, Java object streams: open only files you wrote), fsynced, then {@code CURRENT} renamed
 * into place. The file holds the class names of {@link HnswDistance} and {@link HnswItem}'s serialisers.
 */
public final class HnswlibIndex extends AbstractVectorIndex {

    static final String TYPE = "hnswlib";
    /** The most candidates one search keeps (above it, hnswlib-core's result list costs more than the search). */
    static final int MAX_EF = 8192;
    private static final int PARALLEL_BATCH = 1024;

    /**
     * Build parameters.
     *
     * @param m               links per node on the upper levels ({@code 2 m} on level 0)
     * @param efConstruction  candidate list length while inserting
     * @param initialCapacity nodes before the first doubling (removed ones count until the index is rebuilt)
     */
    public record Options(int m, int efConstruction, int initialCapacity) {

        public Options {
            if (m < 2 || m > 512) {
                throw new IllegalArgumentException("m must be in [2, 512], got " + m);
            }
            if (efConstruction < 1) {
                throw new IllegalArgumentException("efConstruction must be >= 1, got " + efConstruction);
            }
            if (initialCapacity < 1) {
                throw new IllegalArgumentException("initialCapacity must be >= 1, got " + initialCapacity);
            }
        }

        /** m = 16, efConstruction = 100, capacity 1,024 to start. */
        public static Options defaults() {
            return new Options(16, 100, 1024);
        }

        public Options withM(int value) {
            return new Options(value, efConstruction, initialCapacity);
        }

        public Options withEfConstruction(int value) {
            return new Options(m, value, initialCapacity);
        }

        public Options withInitialCapacity(int value) {
            return new Options(m, efConstruction, value);
        }
    }

    private final Options options;
    private final HnswDistance distance;
    private final HnswIndex<Long, float[], HnswItem, Float> graph;
    /** Searches read-lock it; growing the library's arrays write-locks it. */
    private final ReentrantReadWriteLock capacityLock = new ReentrantReadWriteLock();
    /** Nodes ever inserted (removed ones included): the library's capacity must cover them. */
    private int nodes;

    public HnswlibIndex(int dim, Similarity similarity, Options options) {
        this(dim, similarity, options, null, 0);
    }

    private HnswlibIndex(int dim, Similarity similarity, Options options,
                         HnswIndex<Long, float[], HnswItem, Float> loaded, int nodes) {
        super(dim, similarity);
        this.options = Objects.requireNonNull(options, "options");
        if (loaded != null) {
            this.graph = loaded;
            this.distance = (HnswDistance) loaded.getDistanceFunction();
        } else {
            this.distance = new HnswDistance(similarity);
            this.graph = HnswIndex.newBuilder(dim, distance, options.initialCapacity())
                    .withM(options.m())
                    .withEfConstruction(options.efConstruction())
                    .withEf(1) // every search passes its own ef as k (findNearest uses max(ef, k))
                    .withRemoveEnabled()
                    .withCustomSerializers(new HnswItem.IdSerializer(), new HnswItem.Serializer())
                    .build();
        }
        this.nodes = nodes;
    }

    public Options options() {
        return options;
    }

    @Override
    public int size() {
        return graph.size();
    }

    @Override
    public boolean contains(long id) {
        return graph.contains(id);
    }


    /** Unit vectors for cosine; dot product and Euclidean vectors as given ({@link HnswDistance} handles them). */
    @Override
    protected float[] storedForm(float[] vector) {
        return unitIfCosine(vector);
    }

    @Override
    protected void addChecked(long[] ids, float[][] stored) {
        List<HnswItem> items = new ArrayList<>(ids.length);
        for (int i = 0; i < ids.length; i++) {
            items.add(new HnswItem(ids[i], stored[i]));
        }
        ensureCapacity((long) nodes + items.size());
        if (items.size() >= PARALLEL_BATCH && Runtime.getRuntime().availableProcessors() > 1) {
            try {
                graph.addAll(items, Runtime.getRuntime().availableProcessors(), (done, max) -> { }, Integer.MAX_VALUE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while adding; the batch may be partly added", e);
            }
        } else {
            for (HnswItem item : items) {
                graph.add(item);
            }
        }
        nodes += items.size();
    }

    private void ensureCapacity(long needed) {
        if (needed > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("an hnswlib index holds fewer than 2^31 nodes");
        }
        int capacity = graph.getMaxItemCount();
        if (needed <= capacity) {
            return;
        }
        int grown = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(needed, 2L * capacity));
        capacityLock.writeLock().lock();
        try {
            graph.resize(grown);
        } finally {
            capacityLock.writeLock().unlock();
        }
    }

    @Override
    protected void removeChecked(long id) {
        // Present (checked under the same monitor), and every item has version 0: the library removes it.
        graph.remove(id, 0);
    }

    /** The search width a budget buys: {@code clamp(budget / 4, k, min(size, max(k, MAX_EF)))}. */
    int efFor(int k, int budget, int size) {
        long ef = Math.max(k, budget / 4L);
        return (int) Math.min(ef, Math.max(k, Math.min(size, MAX_EF)));
    }

    @Override
    protected SearchResult searchChecked(float[] query, int k, int budget) {
        long start = System.nanoTime();
        float[] q = unitQueryIfCosine(query);
        HnswDistance.Meter meter = HnswDistance.METER.get();
        List<com.github.jelmerk.hnswlib.core.SearchResult<HnswItem, Float>> found;
        long spent;
        capacityLock.readLock().lock();
        try {
            int ef = efFor(k, budget, graph.size());
            meter.spent = 0;
            meter.limit = budget;
            try {
                found = graph.findNearest(q, ef);
            } finally {
                spent = meter.spent;
                meter.spent = 0;
                meter.limit = Long.MAX_VALUE;
            }
        } finally {
            capacityLock.readLock().unlock();
        }
        int n = 0;
        long[] ids = new long[Math.min(k, found.size())];
        float[] scores = new float[ids.length];
        for (var r : found) {
            if (n == ids.length) {
                break;
            }
            float d = r.distance();
            if (d == Float.POSITIVE_INFINITY) {
                continue; // not computed: the budget ran out first
            }
            ids[n] = r.item().id();
            scores[n] = distance.score(d);
            n++;
        }
        if (n < ids.length) {
            ids = Arrays.copyOf(ids, n);
            scores = Arrays.copyOf(scores, n);
        }
        return new SearchResult(ids, scores, new SearchStats(spent, -1, (System.nanoTime() - start) / 1000, "hnswlib"));
    }

    @Override
    public synchronized void save(Path dir) throws IOException {
        ensureOpen();
        Properties meta = newMeta();
        meta.setProperty("m", Integer.toString(options.m()));
        meta.setProperty("efConstruction", Integer.toString(options.efConstruction()));
        meta.setProperty("initialCapacity", Integer.toString(options.initialCapacity()));
        meta.setProperty("count", Integer.toString(size()));
        meta.setProperty("nodes", Integer.toString(nodes));
        meta.setProperty("library", "com.github.jelmerk:hnswlib-core");
        IndexFiles.commit(dir, TYPE, meta, Map.of("graph", out -> graph.save(new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                flush(); // IndexFiles owns the stream: it forces and closes it
            }
        })));
    }

    /** Opens an index saved by {@link #save}. */
    public static HnswlibIndex open(Path dir) throws IOException {
        IndexFiles.Generation g = IndexFiles.open(dir, TYPE);
        int dim = Integer.parseInt(g.require("dim"));
        Similarity similarity = Similarity.valueOf(g.require("similarity"));
        Options options = new Options(Integer.parseInt(g.require("m")), Integer.parseInt(g.require("efConstruction")),
                Integer.parseInt(g.require("initialCapacity")));
        int count = Integer.parseInt(g.require("count"));
        int nodes = Integer.parseInt(g.require("nodes"));
        HnswIndex<Long, float[], HnswItem, Float> graph;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(g.file("graph")), 1 << 16)) {
            graph = HnswIndex.load(in, HnswlibIndex.class.getClassLoader());
        } catch (RuntimeException e) {
            throw new IOException(g.file("graph") + " is not a readable hnswlib graph", e);
        }
        if (!(graph.getDistanceFunction() instanceof HnswDistance d) || d.similarity() != similarity
                || graph.getDimensions() != dim || graph.size() != count) {
            throw new IOException(g.file("graph") + " does not match its metadata (" + dim + " dimensions, "
                    + similarity + ", " + count + " vectors)");
        }
        return new HnswlibIndex(dim, similarity, options, graph, nodes);
    }

    /**
     * Bytes held, estimated: per node its vector, item, node and link lists (2 m on level 0, m on the
     * 1 / ln(m) fraction of nodes above), the id lookup, and the library's per-capacity arrays.
     */
    @Override
    public long memoryBytes() {
        long n = nodes;
        long capacity = graph.getMaxItemCount();
        int m = options.m();
        long perNode = 16 + 4L * dim() // float[]
                + 32 + 16            // item record and its Long id
                + 40                 // node
                + 16 + 48 + 4L * 2 * m // level-0 link list
                + (long) ((48 + 4.0 * m) / Math.log(m)) // upper levels, on average
                + 48;                // id lookup entry and lock object
        // Per capacity slot: the node array's reference, and a bit in each visited set (one per core) and in
        // the set of nodes being inserted.
        double perCapacity = 4 + (Runtime.getRuntime().availableProcessors() + 1) / 8.0;
        return n * perNode + (long) (capacity * perCapacity);
    }

    @Override
    public void close() {
        markClosed();
    }

    @Override
    public String toString() {
        return "HnswlibIndex[" + similarity() + ", dim " + dim() + ", " + size() + " vectors, " + options + "]";
    }
}
