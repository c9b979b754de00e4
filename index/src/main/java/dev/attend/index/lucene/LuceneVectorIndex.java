package dev.attend.index.lucene;

import dev.attend.index.AbstractVectorIndex;
import dev.attend.index.IndexFiles;
import dev.attend.index.SearchResult;
import dev.attend.index.SearchStats;
import dev.attend.index.Similarity;
import dev.attend.index.VectorChecks;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.lucene104.Lucene104Codec;
import org.apache.lucene.codecs.lucene104.Lucene104HnswScalarQuantizedVectorsFormat;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.index.StandardDirectoryReader;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.AcceptDocs;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.SearcherFactory;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.TopKnnCollector;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.Lock;
import org.apache.lucene.store.LockObtainFailedException;
import org.apache.lucene.store.MMapDirectory;
import org.apache.lucene.util.quantization.QuantizedByteVectorValues.ScalarEncoding;

/**
 * HNSW search in Lucene 10: each vector is a document with a {@link KnnFloatVectorField} (HNSW graph
 * per segment, built with {@code m} and {@code beamWidth} through a per-field
 * {@link Lucene99HnswVectorsFormat}, or {@link Lucene104HnswScalarQuantizedVectorsFormat} when
 * {@link Options#quantization()} asks for it) and its {@code long} id as a {@link LongPoint} (so that
 * {@link #remove} is {@code deleteDocuments(LongPoint.newExactQuery)}) plus a
 * {@link NumericDocValuesField} (so that a hit's doc maps back to its id).
 *
 * <p><b>Similarities.</b> {@link Similarity#DOT_PRODUCT} uses Lucene's {@code MAXIMUM_INNER_PRODUCT}
 * (Lucene's {@code DOT_PRODUCT} is for unit vectors only), {@link Similarity#COSINE} stores unit vectors
 * and uses Lucene's {@code DOT_PRODUCT}, {@link Similarity#EUCLIDEAN} uses {@code EUCLIDEAN}. Lucene's
 * scores are transformed ({@code dot+1} or {@code 1/(1-dot)}, {@code (1+cos)/2}, {@code 1/(1+d^2)}):
 * results carry the true similarity, converted back exactly from Lucene's float score, or, with
 * quantization, recomputed from the stored float32 vectors (quantized scores are only approximate).
 *
 * <p><b>Budget.</b> Lucene's HNSW search keeps a candidate list as long as the number of hits it is
 * asked for, so the budget first picks that length, {@code ef = clamp(budget / 4, k, size())} (the
 * same rule as the other graph indexes: a search converges after scoring about four vectors per slot
 * of its list, so a narrower list stops before it has spent the budget), asks each
 * segment for its best {@code ef} and keeps the best {@code k}. The budget is then a hard cap: every
 * segment is searched with a {@link TopKnnCollector} whose visit limit is its share of what is left of
 * the budget (in proportion to its size, the largest segment first, and what a segment leaves unspent
 * goes to the next), through {@link LeafReader#searchNearestVectors(String, float[],
 * org.apache.lucene.search.KnnCollector, AcceptDocs)}. Lucene checks the visit limit only before it
 * scores a block (up to 64 vectors in the exhaustive scan of a small segment, one node's neighbours in
 * the graph), so each segment's limit is its share less {@code max(63, 2 m - 1)}: budgets below about 64
 * buy nothing, and larger ones are never exceeded. {@link SearchStats#distanceComputations()} is the
 * sum of the collectors' {@code visitedCount()} (Lucene counts one visit per vector scored, in the graph
 * or, for a segment too small for a graph, in its exhaustive scan), plus, with quantization, the float32
 * re-scores; {@code nodesVisited} is -1 because Lucene does not say how many nodes it expanded. With
 * quantization {@code ef = clamp(budget / 8, k, size())}, the visit limit is {@code budget - ef} and the
 * {@code ef} candidates are re-scored exactly.
 *
 * <p><b>Concurrency.</b> One {@link IndexWriter} and a {@link SearcherManager} over near-real-time
 * readers. Writes ({@link #add}, {@link #addAll}, {@link #remove}, {@link #save}) are serialised; any
 * number of threads may search meanwhile. A search that starts after a write returned sees it: writes bump
 * a generation, and the first search that finds the searcher older than the last write refreshes it (so a
 * burst of writes costs one refresh). A refresh flushes the buffered documents into a new segment, with
 * its own graph (tens of milliseconds for a small one on the 2-core development machine), and small
 * segments are merged in the background: insert in batches ({@link #addAll}) where you can, and
 * {@link #forceMerge} before measuring, since every segment is searched on its own.
 *
 * <p><b>Where the index lives, and save.</b> {@link #create(Path, int, Similarity, Options)} and
 * {@link #open(Path)} keep the Lucene index in a folder {@code lucene-*} inside the given directory
 * (memory-mapped with {@link MMapDirectory}), and that directory holds {@link IndexFiles}' {@code CURRENT}
 * and {@code meta.properties.<gen>}, which name the folder. {@link #inMemory} keeps it in a
 * {@link ByteBuffersDirectory}. {@code save(dir)}:
 * <ul>
 *   <li>to the index's own directory is a Lucene commit (new segment files and a new
 *       {@code segments_N}, fsynced, then renamed into place: Lucene's own crash-safe commit), after which
 *       {@code CURRENT} is pointed at the folder (one atomic rename);
 *   <li>to any other directory copies a point-in-time view (the current near-real-time reader's segments,
 *       deletes written out) into a new folder {@code lucene-*} there, fsyncs it, writes its
 *       {@code segments_N}, and only then points {@code CURRENT} at it; older folders there are deleted
 *       unless an open writer holds them. The index's own directory is not touched.
 * </ul>
 * A crash at any point leaves {@code CURRENT} naming a complete commit. Unsaved changes are lost on
 * {@link #close} (it rolls the writer back), as with every index; an index created but never saved leaves
 * nothing behind.
 */
public final class LuceneVectorIndex extends AbstractVectorIndex {

    static final String TYPE = "lucene";
    static final String VECTOR_FIELD = "vector";
    static final String ID_FIELD = "id";
    private static final String FOLDER_PREFIX = "lucene-";
    /** Documents per {@code addDocuments} call. */
    private static final int BLOCK = 8192;

    /** Scalar quantization of the stored vectors (graph search on quantized vectors, results re-scored in float32). */
    public enum Quantization {
        /** float32 vectors, Lucene99HnswVectorsFormat. */
        NONE(null),
        /** 8 bits per dimension. */
        INT8(ScalarEncoding.UNSIGNED_BYTE),
        /** 7 bits per dimension (faster integer dot products than 8). */
        INT7(ScalarEncoding.SEVEN_BIT),
        /** 4 bits per dimension, two per byte. */
        INT4(ScalarEncoding.PACKED_NIBBLE),
        /** 1 bit per dimension, queries at 4 bits. */
        INT1(ScalarEncoding.SINGLE_BIT_QUERY_NIBBLE);

        final ScalarEncoding encoding;

        Quantization(ScalarEncoding encoding) {
            this.encoding = encoding;
        }
    }

    /**
     * Build parameters.
     *
     * @param m            graph neighbours per node (Lucene's {@code maxConn}; level 0 keeps {@code 2 m})
     * @param beamWidth    candidate list length while building (hnswlib's {@code efConstruction})
     * @param quantization how vectors are stored for the graph search
     * @param ramBufferMb  the writer's RAM buffer: larger means fewer, larger segments (and graphs)
     */
    public record Options(int m, int beamWidth, Quantization quantization, double ramBufferMb) {

        public Options {
            if (m < 2 || m > Lucene99HnswVectorsFormat.MAXIMUM_MAX_CONN) {
                throw new IllegalArgumentException("m must be in [2, " + Lucene99HnswVectorsFormat.MAXIMUM_MAX_CONN + "], got " + m);
            }
            if (beamWidth < 1 || beamWidth > Lucene99HnswVectorsFormat.MAXIMUM_BEAM_WIDTH) {
                throw new IllegalArgumentException("beamWidth must be in [1, " + Lucene99HnswVectorsFormat.MAXIMUM_BEAM_WIDTH + "], got " + beamWidth);
            }
            Objects.requireNonNull(quantization, "quantization");
            if (!(ramBufferMb >= 1 && ramBufferMb <= 2047)) {
                throw new IllegalArgumentException("ramBufferMb must be in [1, 2047], got " + ramBufferMb);
            }
        }

        /** m = 16, beamWidth = 100, no quantization, 256 MiB buffer. */
        public static Options defaults() {
            return new Options(16, 100, Quantization.NONE, 256);
        }

        public Options withM(int value) {
            return new Options(value, beamWidth, quantization, ramBufferMb);
        }

        public Options withBeamWidth(int value) {
            return new Options(m, value, quantization, ramBufferMb);
        }

        public Options withQuantization(Quantization value) {
            return new Options(m, beamWidth, value, ramBufferMb);
        }

        public Options withRamBufferMb(double value) {
            return new Options(m, beamWidth, quantization, value);
        }
    }

    private final Options options;
    private final VectorSimilarityFunction function;
    /** The directory this index is saved to by a plain commit (null in memory). */
    private final Path home;
    /** The folder inside {@code home} that holds the Lucene index (null in memory). */
    private final String folder;
    private final Directory directory;
    private final IndexWriter writer;
    private final SearcherManager searchers;
    private final Set<Long> ids = ConcurrentHashMap.newKeySet();
    private final AtomicLong writes = new AtomicLong();
    private final Object refreshLock = new Object();
    private volatile long refreshedWrites;
    /** Whether {@code CURRENT} in {@code home} names {@code folder} (false for a created index until its first save). */
    private boolean referenced;

    private LuceneVectorIndex(int dim, Similarity similarity, Options options, Path home, String folder,
                              Directory directory, boolean create, boolean referenced) throws IOException {
        super(dim, similarity);
        this.options = Objects.requireNonNull(options, "options");
        this.function = switch (similarity) {
            case DOT_PRODUCT -> VectorSimilarityFunction.MAXIMUM_INNER_PRODUCT;
            case COSINE -> VectorSimilarityFunction.DOT_PRODUCT;
            case EUCLIDEAN -> VectorSimilarityFunction.EUCLIDEAN;
        };
        KnnVectorsFormat format = vectorsFormat(options);
        if (dim > format.getMaxDimensions(VECTOR_FIELD)) {
            throw new IllegalArgumentException("Lucene indexes at most " + format.getMaxDimensions(VECTOR_FIELD) + " dimensions, got " + dim);
        }
        this.home = home;
        this.folder = folder;
        this.directory = directory;
        this.referenced = referenced;
        IndexWriterConfig config = new IndexWriterConfig()
                .setCodec(codec(format))
                .setOpenMode(create ? IndexWriterConfig.OpenMode.CREATE : IndexWriterConfig.OpenMode.APPEND)
                .setCommitOnClose(false)
                .setRAMBufferSizeMB(options.ramBufferMb());
        IndexWriter w = null;
        try {
            w = new IndexWriter(directory, config);
            // writeAllDeletes: near-real-time readers write their deletes out, so save() can copy them.
            this.searchers = new SearcherManager(w, true, true, new SearcherFactory());
            this.writer = w;
            loadIds();
        } catch (IOException | RuntimeException e) {
            if (w != null) {
                try {
                    w.rollback();
                } catch (IOException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            directory.close();
            throw e;
        }
    }

    /** A new, empty index held in memory ({@link ByteBuffersDirectory}); {@link #save} copies it to disk. */
    public static LuceneVectorIndex inMemory(int dim, Similarity similarity, Options options) {
        try {
            return new LuceneVectorIndex(dim, similarity, options, null, null, new ByteBuffersDirectory(), true, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A new, empty index that lives in {@code dir} (created if missing), memory-mapped. What {@code dir}
     * held before stays readable there until the first {@code save(dir)} replaces it.
     */
    public static LuceneVectorIndex create(Path dir, int dim, Similarity similarity, Options options) throws IOException {
        VectorChecks.checkDimension(dim);
        Objects.requireNonNull(similarity, "similarity");
        Objects.requireNonNull(options, "options");
        Path root = dir.toAbsolutePath().normalize();
        Files.createDirectories(root);
        Path work = Files.createTempDirectory(root, FOLDER_PREFIX);
        try {
            return new LuceneVectorIndex(dim, similarity, options, root, work.getFileName().toString(),
                    new MMapDirectory(work), true, false);
        } catch (IOException | RuntimeException e) {
            deleteFolder(work);
            throw e;
        }
    }

    /**
     * Opens the index saved in {@code dir}; it goes on living there (writes go to its folder, and
     * {@code save(dir)} commits them). One open index per directory: a second open fails on Lucene's
     * write lock.
     */
    public static LuceneVectorIndex open(Path dir) throws IOException {
        Path root = dir.toAbsolutePath().normalize();
        IndexFiles.Generation g = IndexFiles.open(root, TYPE);
        int dim = Integer.parseInt(g.require("dim"));
        Similarity similarity = Similarity.valueOf(g.require("similarity"));
        Options options = new Options(Integer.parseInt(g.require("m")), Integer.parseInt(g.require("beamWidth")),
                Quantization.valueOf(g.require("quantization")), Double.parseDouble(g.require("ramBufferMb")));
        String folder = g.require("folder");
        Path work = root.resolve(folder);
        if (!Files.isDirectory(work)) {
            throw new NoSuchFileException(work.toString(), null, "the Lucene folder named by " + g.file("meta.properties") + " is missing");
        }
        return new LuceneVectorIndex(dim, similarity, options, root, folder, new MMapDirectory(work), false, true);
    }

    private static KnnVectorsFormat vectorsFormat(Options options) {
        if (options.quantization() == Quantization.NONE) {
            return new Lucene99HnswVectorsFormat(options.m(), options.beamWidth());
        }
        return new Lucene104HnswScalarQuantizedVectorsFormat(options.quantization().encoding, options.m(), options.beamWidth());
    }

    /** The default codec with this index's HNSW parameters for the vector field (readers find the format by name). */
    private static Codec codec(KnnVectorsFormat format) {
        return new Lucene104Codec() {
            @Override
            public KnnVectorsFormat getKnnVectorsFormatForField(String field) {
                return format;
            }
        };
    }

    private void loadIds() throws IOException {
        DirectoryReader reader = DirectoryReader.open(writer);
        try {
            for (LeafReaderContext leaf : reader.leaves()) {
                NumericDocValues values = DocValues.getNumeric(leaf.reader(), ID_FIELD);
                var live = leaf.reader().getLiveDocs();
                for (int doc = values.nextDoc(); doc != NumericDocValues.NO_MORE_DOCS; doc = values.nextDoc()) {
                    if (live == null || live.get(doc)) {
                        ids.add(values.longValue());
                    }
                }
            }
        } finally {
            reader.close();
        }
    }

    public Options options() {
        return options;
    }

    @Override
    public int size() {
        return ids.size();
    }

    @Override
    public boolean contains(long id) {
        return ids.contains(id);
    }


    /** Unit vectors for cosine (searched by Lucene's {@code DOT_PRODUCT}); others as given. */
    @Override
    protected float[] storedForm(float[] vector) {
        return unitIfCosine(vector);
    }

    @Override
    protected void addChecked(long[] batchIds, float[][] stored) {
        List<Document> docs = new ArrayList<>(batchIds.length);
        for (int i = 0; i < batchIds.length; i++) {
            Document doc = new Document();
            doc.add(new KnnFloatVectorField(VECTOR_FIELD, stored[i], function));
            doc.add(new LongPoint(ID_FIELD, batchIds[i]));
            doc.add(new NumericDocValuesField(ID_FIELD, batchIds[i]));
            docs.add(doc);
        }
        // In blocks, so that a large batch never outgrows one indexing thread's RAM limit; if a block fails
        // (an I/O error: the input was checked above), the blocks already added are deleted again.
        int added = 0;
        try {
            for (int from = 0; from < docs.size(); from += BLOCK) {
                int to = Math.min(docs.size(), from + BLOCK);
                writer.addDocuments(docs.subList(from, to));
                added = to;
            }
        } catch (IOException | RuntimeException e) {
            if (added > 0) {
                try {
                    writer.deleteDocuments(LongPoint.newSetQuery(ID_FIELD, Arrays.copyOf(batchIds, added)));
                } catch (IOException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
        for (long id : batchIds) {
            ids.add(id);
        }
        writes.incrementAndGet();
    }

    @Override
    protected void removeChecked(long id) {
        try {
            writer.deleteDocuments(LongPoint.newExactQuery(ID_FIELD, id));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ids.remove(id);
        writes.incrementAndGet();
    }

    /** Merges the index into one segment (one graph): the best recall per distance computation, at a cost. */
    public synchronized void forceMerge() {
        ensureOpen();
        try {
            writer.forceMerge(1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        writes.incrementAndGet();
    }

    /** Segments the searcher sees now (each has its own HNSW graph). */
    public int segmentCount() {
        ensureOpen();
        refreshIfStale();
        IndexSearcher searcher = acquire();
        try {
            return searcher.getIndexReader().leaves().size();
        } finally {
            release(searcher);
        }
    }

    private void refreshIfStale() {
        long target = writes.get();
        if (refreshedWrites >= target) {
            return;
        }
        synchronized (refreshLock) {
            if (refreshedWrites >= target) {
                return;
            }
            long now = writes.get();
            try {
                searchers.maybeRefreshBlocking();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            refreshedWrites = now;
        }
    }

    private IndexSearcher acquire() {
        try {
            return searchers.acquire();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void release(IndexSearcher searcher) {
        try {
            searchers.release(searcher);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One hit of one segment: its doc, Lucene's score, and after mapping its id and similarity. */
    private static final class Hit {
        final LeafReaderContext leaf;
        final int doc;
        final float luceneScore;
        long id;
        float score;

        Hit(LeafReaderContext leaf, int doc, float luceneScore) {
            this.leaf = leaf;
            this.doc = doc;
            this.luceneScore = luceneScore;
        }
    }

    @Override
    protected SearchResult searchChecked(float[] query, int k, int budget) {
        long start = System.nanoTime();
        refreshIfStale();
        float[] q = unitQueryIfCosine(query);
        IndexSearcher searcher = acquire();
        try {
            List<LeafReaderContext> leaves = new ArrayList<>();
            long remainingDocs = 0;
            for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
                if (leaf.reader().numDocs() > 0) {
                    leaves.add(leaf);
                    remainingDocs += leaf.reader().maxDoc();
                }
            }
            int live = searcher.getIndexReader().numDocs();
            if (live == 0) {
                return new SearchResult(new long[0], new float[0], new SearchStats(0, -1, micros(start), "lucene-hnsw"));
            }
            leaves.sort(Comparator.comparingInt((LeafReaderContext l) -> l.reader().maxDoc()).reversed());
            boolean quantized = options.quantization() != Quantization.NONE;
            // With quantization every candidate in the list also costs a float32 re-score: half as long a list.
            int ef = (int) Math.max(k, Math.min(live, budget / (quantized ? 8L : 4L)));
            long visitBudget = !quantized ? budget : budget > ef ? budget - ef : Math.max(1, budget / 2);
            long visited = 0;
            int overshoot = overshoot();
            List<Hit> hits = new ArrayList<>();
            for (int i = 0; i < leaves.size(); i++) {
                LeafReaderContext leaf = leaves.get(i);
                LeafReader reader = leaf.reader();
                long left = visitBudget - visited;
                long share = i == leaves.size() - 1 ? left : Math.max(1, left * reader.maxDoc() / remainingDocs);
                remainingDocs -= reader.maxDoc();
                long limit = Math.min(share, left - overshoot);
                if (limit < 1) {
                    break;
                }
                TopKnnCollector collector = new TopKnnCollector(Math.min(ef, reader.numDocs()), (int) Math.min(limit, Integer.MAX_VALUE));
                reader.searchNearestVectors(VECTOR_FIELD, q, collector, AcceptDocs.fromLiveDocs(reader.getLiveDocs(), reader.maxDoc()));
                visited += collector.visitedCount();
                TopDocs top = collector.topDocs();
                for (ScoreDoc sd : top.scoreDocs) {
                    hits.add(new Hit(leaf, sd.doc, sd.score));
                }
            }
            hits.sort(Comparator.comparingDouble((Hit h) -> -h.luceneScore));
            long rescored = 0;
            if (quantized) {
                long allowed = Math.max(0, (long) budget - visited);
                if (hits.size() > allowed) {
                    hits = new ArrayList<>(hits.subList(0, (int) allowed));
                }
                rescore(hits, query);
                rescored = hits.size();
                hits.sort(Comparator.comparingDouble((Hit h) -> -h.score));
            } else {
                for (Hit h : hits) {
                    h.score = fromLuceneScore(h.luceneScore, query);
                }
            }
            int n = Math.min(k, hits.size());
            List<Hit> best = hits.subList(0, n);
            mapIds(best);
            long[] outIds = new long[n];
            float[] scores = new float[n];
            for (int i = 0; i < n; i++) {
                outIds[i] = best.get(i).id;
                scores[i] = best.get(i).score;
            }
            String method = quantized ? "lucene-hnsw-" + options.quantization().name().toLowerCase(java.util.Locale.ROOT) : "lucene-hnsw";
            return new SearchResult(outIds, scores, new SearchStats(visited + rescored, -1, micros(start), method));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            release(searcher);
        }
    }

    /**
     * How far past its visit limit one Lucene segment search can go: Lucene checks the limit before it
     * scores a block of up to 64 vectors (exhaustive scans of small segments) or one node's neighbour
     * list (up to {@code 2 m}, graph search), and counts the block after. Each segment's limit is held
     * back by this much, so that the budget is a hard cap.
     */
    private int overshoot() {
        return Math.max(63, 2 * options.m() - 1);
    }

    private static long micros(long start) {
        return (System.nanoTime() - start) / 1000;
    }

    /** The similarity from Lucene's transformed score (see {@link VectorSimilarityFunction}). */
    private float fromLuceneScore(float s, float[] query) {
        return switch (similarity()) {
            // MAXIMUM_INNER_PRODUCT: dot < 0 -> 1 / (1 - dot); dot >= 0 -> dot + 1.
            case DOT_PRODUCT -> s < 1 ? 1 - 1 / s : s - 1;
            // DOT_PRODUCT of unit vectors: max((1 + cos) / 2, 0). A zero query scores 0 against everything.
            case COSINE -> isZero(query) ? 0f : 2 * s - 1;
            // EUCLIDEAN: 1 / (1 + d^2).
            case EUCLIDEAN -> 1 - 1 / s;
        };
    }

    private static boolean isZero(float[] v) {
        for (float x : v) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /** Exact similarities from the stored float32 vectors, leaf by leaf in doc order. */
    private void rescore(List<Hit> hits, float[] query) throws IOException {
        List<Hit> sorted = new ArrayList<>(hits);
        sorted.sort(Comparator.comparingInt((Hit h) -> h.leaf.ord).thenComparingInt(h -> h.doc));
        LeafReaderContext current = null;
        FloatVectorValues values = null;
        KnnVectorValues.DocIndexIterator it = null;
        for (Hit h : sorted) {
            if (h.leaf != current) {
                current = h.leaf;
                values = current.reader().getFloatVectorValues(VECTOR_FIELD);
                it = values.iterator();
            }
            int doc = it.docID() >= h.doc ? it.docID() : it.advance(h.doc);
            if (doc != h.doc) {
                throw new IllegalStateException("doc " + h.doc + " has no vector");
            }
            h.score = similarity().score(query, values.vectorValue(it.index()));
        }
    }

    /** Fills in the ids of {@code hits} from the id doc values, leaf by leaf in doc order. */
    private static void mapIds(List<Hit> hits) throws IOException {
        List<Hit> sorted = new ArrayList<>(hits);
        sorted.sort(Comparator.comparingInt((Hit h) -> h.leaf.ord).thenComparingInt(h -> h.doc));
        LeafReaderContext current = null;
        NumericDocValues values = null;
        for (Hit h : sorted) {
            if (h.leaf != current) {
                current = h.leaf;
                values = DocValues.getNumeric(current.reader(), ID_FIELD);
            }
            if (!values.advanceExact(h.doc)) {
                throw new IllegalStateException("doc " + h.doc + " has no id");
            }
            h.id = values.longValue();
        }
    }

    private Properties meta(String folderName) {
        Properties meta = newMeta();
        meta.setProperty("m", Integer.toString(options.m()));
        meta.setProperty("beamWidth", Integer.toString(options.beamWidth()));
        meta.setProperty("quantization", options.quantization().name());
        meta.setProperty("ramBufferMb", Double.toString(options.ramBufferMb()));
        meta.setProperty("folder", folderName);
        meta.setProperty("count", Integer.toString(size()));
        meta.setProperty("lucene", org.apache.lucene.util.Version.LATEST.toString());
        return meta;
    }

    @Override
    public synchronized void save(Path dir) throws IOException {
        ensureOpen();
        Path target = dir.toAbsolutePath().normalize();
        if (home != null && Files.isDirectory(target) && Files.isSameFile(target, home)) {
            writer.commit();
            IndexFiles.commit(home, TYPE, meta(folder), Map.of());
            referenced = true;
            deleteStaleFolders(home, folder);
            return;
        }
        Files.createDirectories(target);
        // A point-in-time view: the near-real-time reader's segments, which it keeps from deletion while held.
        writes.incrementAndGet();
        refreshIfStale();
        IndexSearcher searcher = acquire();
        Path out = Files.createTempDirectory(target, FOLDER_PREFIX);
        boolean done = false;
        try (FSDirectory outDir = FSDirectory.open(out)) {
            SegmentInfos infos = ((StandardDirectoryReader) searcher.getIndexReader()).getSegmentInfos().clone();
            Collection<String> files = infos.files(false);
            for (String file : files) {
                outDir.copyFrom(directory, file, file, IOContext.DEFAULT);
            }
            outDir.sync(files);
            infos.commit(outDir);
            outDir.sync(List.of(infos.getSegmentsFileName()));
            outDir.syncMetaData();
            IndexFiles.commit(target, TYPE, meta(out.getFileName().toString()), Map.of());
            done = true;
        } finally {
            release(searcher);
            if (!done) {
                deleteFolder(out);
            }
        }
        deleteStaleFolders(target, out.getFileName().toString());
    }

    /** Deletes the {@code lucene-*} folders of {@code root} other than {@code keep} that no writer holds. */
    private static void deleteStaleFolders(Path root, String keep) {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(root, FOLDER_PREFIX + "*")) {
            for (Path child : children) {
                if (!Files.isDirectory(child) || child.getFileName().toString().equals(keep)) {
                    continue;
                }
                try (FSDirectory d = FSDirectory.open(child); Lock lock = d.obtainLock(IndexWriter.WRITE_LOCK_NAME)) {
                    for (String name : d.listAll()) {
                        if (!name.equals(IndexWriter.WRITE_LOCK_NAME)) {
                            d.deleteFile(name);
                        }
                    }
                } catch (LockObtainFailedException inUse) {
                    continue;
                }
                deleteFolder(child);
            }
        } catch (IOException e) {
            // Stale folders are garbage, never read again: leave them for the next save.
        }
    }

    private static void deleteFolder(Path folder) {
        if (!Files.exists(folder)) {
            return;
        }
        try (var walk = Files.walk(folder)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // Left for the next save's clean-up.
        }
    }

    /**
     * Bytes the index holds: the writer's buffers, the index files (memory-mapped, or on the heap in
     * memory) and the id set.
     */
    @Override
    public long memoryBytes() {
        ensureOpen();
        long bytes = writer.ramBytesUsed() + 64L * ids.size();
        try {
            for (String file : directory.listAll()) {
                try {
                    bytes += directory.fileLength(file);
                } catch (NoSuchFileException | java.io.FileNotFoundException gone) {
                    // deleted by a merge meanwhile
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes;
    }

    @Override
    public synchronized void close() {
        if (!markClosed()) {
            return;
        }
        IOException failure = null;
        try {
            searchers.close();
        } catch (IOException e) {
            failure = e;
        }
        try {
            writer.rollback();
        } catch (IOException e) {
            failure = failure == null ? e : failure;
        }
        try {
            directory.close();
        } catch (IOException e) {
            failure = failure == null ? e : failure;
        }
        if (home != null && !referenced) {
            deleteFolder(home.resolve(folder));
        }
        if (failure != null) {
            throw new UncheckedIOException(failure);
        }
    }

    @Override
    public String toString() {
        return "LuceneVectorIndex[" + similarity() + ", dim " + dim() + ", " + size() + " vectors, " + options
                + (home == null ? ", in memory" : ", " + home.resolve(folder)) + "]";
    }

    // Visible for tests: the folders that hold Lucene indexes under a saved directory.
    static Set<String> folders(Path root) throws IOException {
        Set<String> out = new HashSet<>();
        try (DirectoryStream<Path> children = Files.newDirectoryStream(root, FOLDER_PREFIX + "*")) {
            for (Path child : children) {
                out.add(child.getFileName().toString());
            }
        }
        return out;
    }
}
