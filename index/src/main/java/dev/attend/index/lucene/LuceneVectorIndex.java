package dev.attend.index.lucene;

import dev.attend.index.AbstractVectorIndex;
import dev.attend.index.IndexFiles;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorChecks;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.lucene104.Lucene104HnswScalarQuantizedVectorsFormat;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.index.StandardDirectoryReader;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.MMapDirectory;
import org.apache.lucene.util.Version;
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
 * <p><b>Budget.</b> A hard cap on the vectors scored, shared out over the segments: see {@link BudgetedKnnSearch}.
 *
 * <p><b>Concurrency.</b> One {@link IndexWriter} and a {@link SearcherManager} over near-real-time
 * readers. Writes ({@link #add}, {@link #addAll}, {@link #remove}, {@link #save}) are serialised; any
 * number of threads may search meanwhile. A search that starts after a write returned sees it
 * ({@link NrtSearchers}: a burst of writes costs one refresh). A refresh flushes the buffered documents into a new segment, with
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
    private final NrtSearchers searchers;
    private final BudgetedKnnSearch knn;
    private final Set<Long> ids = ConcurrentHashMap.newKeySet();
    /** Whether {@code CURRENT} in {@code home} names {@code folder} (false for a created index until its first save). */
    private boolean referenced;

    private LuceneVectorIndex(int dim, Similarity similarity, Options options, Path home, String folder,
                              Directory directory, boolean create, boolean referenced) throws IOException {
        super(dim, similarity);
        this.options = Objects.requireNonNull(options, "options");
        this.function = VectorFieldFormat.function(similarity);
        KnnVectorsFormat format = VectorFieldFormat.vectorsFormat(options);
        if (dim > format.getMaxDimensions(VECTOR_FIELD)) {
            throw new IllegalArgumentException("Lucene indexes at most " + format.getMaxDimensions(VECTOR_FIELD) + " dimensions, got " + dim);
        }
        this.knn = new BudgetedKnnSearch(similarity, options);
        this.home = home;
        this.folder = folder;
        this.directory = directory;
        this.referenced = referenced;
        IndexWriterConfig config = new IndexWriterConfig()
                .setCodec(VectorFieldFormat.codec(format))
                .setOpenMode(create ? IndexWriterConfig.OpenMode.CREATE : IndexWriterConfig.OpenMode.APPEND)
                .setCommitOnClose(false)
                .setRAMBufferSizeMB(options.ramBufferMb());
        IndexWriter w = null;
        try {
            w = new IndexWriter(directory, config);
            this.searchers = new NrtSearchers(w);
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
        Path work = LuceneFolders.create(root);
        try {
            return new LuceneVectorIndex(dim, similarity, options, root, work.getFileName().toString(),
                    new MMapDirectory(work), true, false);
        } catch (IOException | RuntimeException e) {
            LuceneFolders.delete(work);
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
        searchers.written();
    }

    @Override
    protected void removeChecked(long id) {
        try {
            writer.deleteDocuments(LongPoint.newExactQuery(ID_FIELD, id));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ids.remove(id);
        searchers.written();
    }

    /** Merges the index into one segment (one graph): the best recall per distance computation, at a cost. */
    public synchronized void forceMerge() {
        ensureOpen();
        try {
            writer.forceMerge(1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        searchers.written();
    }

    /** Segments the searcher sees now (each has its own HNSW graph). */
    public int segmentCount() {
        ensureOpen();
        searchers.refreshIfStale();
        IndexSearcher searcher = searchers.acquire();
        try {
            return searcher.getIndexReader().leaves().size();
        } finally {
            searchers.release(searcher);
        }
    }

    @Override
    protected SearchResult searchChecked(float[] query, int k, int budget) {
        long start = System.nanoTime();
        searchers.refreshIfStale();
        IndexSearcher searcher = searchers.acquire();
        try {
            return knn.search(searcher, query, unitQueryIfCosine(query), k, budget, start);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            searchers.release(searcher);
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
        meta.setProperty("lucene", Version.LATEST.toString());
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
            LuceneFolders.deleteStale(home, folder);
            return;
        }
        Files.createDirectories(target);
        // A point-in-time view: the near-real-time reader's segments, which it keeps from deletion while held.
        searchers.written();
        searchers.refreshIfStale();
        IndexSearcher searcher = searchers.acquire();
        String copied;
        try {
            SegmentInfos infos = ((StandardDirectoryReader) searcher.getIndexReader()).getSegmentInfos().clone();
            Path out = LuceneFolders.copy(directory, infos, target);
            copied = out.getFileName().toString();
            try {
                IndexFiles.commit(target, TYPE, meta(copied), Map.of());
            } catch (IOException | RuntimeException e) {
                LuceneFolders.delete(out);
                throw e;
            }
        } finally {
            searchers.release(searcher);
        }
        LuceneFolders.deleteStale(target, copied);
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
                } catch (NoSuchFileException | FileNotFoundException gone) {
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
            LuceneFolders.delete(home.resolve(folder));
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
}
