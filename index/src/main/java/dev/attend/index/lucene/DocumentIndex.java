package dev.attend.index.lucene;

import dev.attend.index.VectorChecks;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.ResourceId;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.UnsupportedFormatException;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.MultiBits;
import org.apache.lucene.index.MultiTerms;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;

/**
 * Documents in one Lucene index, searchable two ways: BM25 over their words and nearest neighbours of a dense vector
 * (HNSW, dot product of unit vectors). Each document has an id (unique: adding an id again replaces the document),
 * a title and a text (stored, and analysed together into the BM25 field with Lucene's English analyzer: lower case,
 * stop words, Porter stemming) and a unit vector of the index's dimension.
 *
 * <p>Persistent: writes are visible to searches at once (near-real-time readers; inside {@link #atomically} only once
 * its commit succeeded, never before nor after a failure) and durable after {@link #commit}
 * (a crash loses what was added since the last commit, nothing before it). The vector dimension is kept in the
 * commit's user data; opening an index with another dimension is refused.
 *
 * <p><b>Damage.</b> {@link #open} never opens a writer over an index it cannot trust: a directory that holds index
 * files but no commit point ({@code segments_N} gone: a writer would start an empty index and delete every segment
 * file), a commit that cannot be read, or a segment whose files fail Lucene's own CRC32 footers
 * ({@link org.apache.lucene.index.LeafReader#checkIntegrity}, every byte of every file read once) is moved aside
 * whole into {@code <parent>/quarantine/} ({@link Quarantine}, nothing deleted), reported to the {@link DamageLog}
 * and an empty index is started in its place ({@link #damage()} says so). An index that is not damaged but that this
 * build cannot read (another Lucene version: {@code IndexFormatTooOld/TooNewException}; a codec whose SPI is missing,
 * every file's checksum holding) or that cannot be read at all (an I/O error) is left where it is, reported with no
 * quarantine, and {@link #open} throws (an {@link UnsupportedFormatException} or an {@link IOException} naming it):
 * never an empty index started over data that may be fine.
 *
 * <p><b>Failed writes.</b> A write that fails (a full disk, an I/O error) is rolled back to the last commit, so it
 * applies whole or not at all (with it go other writes not yet committed: {@link #atomically} keeps a request's
 * writes and its commit together), and throws {@link StorageErrors.StorageFullException} when the disk is full or
 * an {@link IOException} saying so; the next write opens a new writer from the last commit by itself (a Lucene
 * writer hit by an I/O error while flushing closes for good).
 */
public final class DocumentIndex implements Closeable {

    static final String ID = "id";
    static final String TITLE = "title";
    static final String TEXT = "text";
    static final String BODY = "body";
    static final String VECTOR = "vector";
    /** Ids are Lucene terms (at most 32,766 bytes); a bound far below that keeps them ids. */
    public static final int MAX_ID_CHARS = ResourceId.MAX_DOCUMENT_LENGTH;

    /**
     * A document to add: a unit {@code vector} of the index's dimension, and metadata {@code fields} (name -> values,
     * exact strings) that searches can filter on ({@link Filter}).
     */
    public record Entry(String id, String title, String text, float[] vector, Map<String, List<String>> fields) {
        public Entry {
            fields = fields == null ? Map.of() : Map.copyOf(fields);
        }

        public Entry(String id, String title, String text, float[] vector) {
            this(id, title, text, vector, Map.of());
        }
    }

    /** A document as stored. */
    public record Stored(String id, String title, String text, Map<String, List<String>> fields) {
    }

    /**
     * Which documents a search may return: for every field named, the document holds one of the values listed
     * (fields AND, values OR). Empty: every document.
     */
    public record Filter(Map<String, List<String>> anyOf) {
        public static final Filter NONE = new Filter(Map.of());

        public Filter {
            anyOf = anyOf == null ? Map.of() : Map.copyOf(anyOf);
            DocumentChecks.checkFields(anyOf, "filter");
            for (var e : anyOf.entrySet()) {
                if (e.getValue().isEmpty()) {
                    throw new IllegalArgumentException("filter field '" + e.getKey() + "' lists no value (nothing would match)");
                }
            }
        }

        Query query() {
            BooleanQuery.Builder all = new BooleanQuery.Builder();
            for (var e : anyOf.entrySet()) {
                BooleanQuery.Builder any = new BooleanQuery.Builder();
                for (String v : e.getValue()) {
                    any.add(new TermQuery(new Term(FIELD_PREFIX + e.getKey(), v)), BooleanClause.Occur.SHOULD);
                }
                all.add(any.build(), BooleanClause.Occur.FILTER);
            }
            return all.build();
        }
    }

    /** Metadata fields are indexed as {@code f.<name>} (exact terms) and stored under the same name. */
    static final String FIELD_PREFIX = "f.";
    public static final int MAX_FIELDS = 32;
    public static final int MAX_FIELD_VALUES = 64;
    public static final int MAX_FIELD_VALUE_CHARS = 256;

    /** A search hit: the document id and the score of the search that found it (BM25, or the dot product). */
    public record Hit(String id, float score) {
    }

    /** The store name this index reports damage under ({@link DamageLog}). */
    public static final String STORE = "search";
    private static final System.Logger LOG = System.getLogger(DocumentIndex.class.getName());

    private final int dim;
    private final Analyzer analyzer = new EnglishAnalyzer();
    private final DocumentWriter writer;
    private final DamageLog.Damage damage;
    private final long verifiedBytes;
    private final long verifyNanos;

    private DocumentIndex(int dim, Path path, Directory directory, IndexWriter writer, DamageLog.Damage damage, long verifiedBytes,
            long verifyNanos) throws IOException {
        this.dim = dim;
        this.writer = new DocumentWriter(dim, path, directory, writer);
        this.damage = damage;
        this.verifiedBytes = verifiedBytes;
        this.verifyNanos = verifyNanos;
    }

    /**
     * Opens the index in {@code dir}, creating it (with vectors of {@code dim}) when there is none. A damaged index
     * (see the class comment) is moved to {@code <dir's parent>/quarantine/} and an empty one started in its place.
     *
     * @throws IllegalArgumentException when the index holds vectors of another dimension
     * @throws UnsupportedFormatException when the index is intact but of a Lucene version or codec this build does not
     *     read (left in place and reported, never moved aside or written over)
     * @throws IOException when the directory cannot be read (not damage: permissions, I/O errors; reported, left in
     *     place), or a damaged index could not be moved aside (it is then left as it is, never written over)
     */
    public static DocumentIndex open(Path dir, int dim) throws IOException {
        return open(dir, dim, d -> d);
    }

    /** The same over {@code wrap} of the file-system directory (tests inject I/O failures there). */
    static DocumentIndex open(Path dir, int dim, Function<Directory, Directory> wrap) throws IOException {
        if (dim < 1) {
            throw new IllegalArgumentException("dim must be >= 1, got " + dim);
        }
        Files.createDirectories(dir);
        Directory directory = wrap.apply(FSDirectory.open(dir));
        IndexWriter writer = null;
        DamageLog.Damage damage = null;
        long start = System.nanoTime();
        long bytes = 0;
        try {
            DocumentIndexCheck.Verified v = DocumentIndexCheck.verify(directory, dir, dim);
            String problem = v.problem();
            bytes = v.bytes();
            if (problem != null) {
                directory.close();
                Path root = dir.toAbsolutePath().normalize().getParent();
                Path moved = Quarantine.moveAside(root, STORE, "document index", dir, problem);
                if (moved == null) {
                    throw new IOException("the document index at " + dir + " is damaged (" + problem
                            + ") and could not be moved aside; it was left as it is: move it away by hand");
                }
                damage = DamageLog.all().stream().filter(d -> moved.equals(d.quarantinedTo())).reduce((a, b) -> b)
                        .orElseGet(() -> new DamageLog.Damage(STORE, "document index", dir, moved, problem, Instant.now()));
                Files.createDirectories(dir);
                directory = wrap.apply(FSDirectory.open(dir));
            }
            long nanos = System.nanoTime() - start;
            writer = DocumentWriter.newWriter(directory, dim);
            if (!DirectoryReader.indexExists(directory)) {
                writer.commit(); // a commit point from the start: index files without one always mean damage
            }
            LOG.log(System.Logger.Level.INFO, "Document index " + dir + ": checked " + bytes + " bytes of segment files in "
                    + nanos / 1_000_000 + " ms");
            return new DocumentIndex(dim, dir, directory, writer, damage, bytes, nanos);
        } catch (IOException | RuntimeException e) {
            if (writer != null) {
                try {
                    writer.rollback();
                } catch (IOException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            directory.close();
            throw e;
        }
    }

    public int dim() {
        return dim;
    }

    /** What was found damaged and moved aside when this index was opened, or null when it opened clean. */
    public DamageLog.Damage damage() {
        return damage;
    }

    /** Bytes of segment files checked against their checksums at open, and how long that took (nanoseconds). */
    public long verifiedBytes() {
        return verifiedBytes;
    }

    public long verifyNanos() {
        return verifyNanos;
    }

    /** Writes done by {@link #atomically}. */
    @FunctionalInterface
    public interface Writes {
        void run() throws IOException;
    }

    /**
     * Runs {@code writes} (this index's {@link #add} and {@link #delete}) and commits, alone: when it returns all of
     * it is durable; when it throws, none of it is applied (the index is back at its last commit).
     */
    public void atomically(Writes writes) throws IOException {
        writer.atomically(writes);
    }

    /** Adds documents (replacing those with the same ids); visible to searches when it returns. */
    public void add(List<Entry> entries) throws IOException {
        for (Entry e : entries) {
            DocumentChecks.check(e, dim);
        }
        writer.write(w -> {
            addAll(w, entries);
            writer.refreshUnlessAtomic();
            return null;
        });
    }

    private static void addAll(IndexWriter writer, List<Entry> entries) throws IOException {
        for (Entry e : entries) {
            Document d = new Document();
            d.add(new StringField(ID, e.id(), Field.Store.YES));
            d.add(new StoredField(TITLE, e.title() == null ? "" : e.title()));
            d.add(new StoredField(TEXT, e.text() == null ? "" : e.text()));
            d.add(new TextField(BODY, body(e.title(), e.text()), Field.Store.NO));
            d.add(new KnnFloatVectorField(VECTOR, e.vector(), VectorSimilarityFunction.DOT_PRODUCT));
            for (var f : e.fields().entrySet()) {
                for (String v : f.getValue()) {
                    d.add(new StringField(FIELD_PREFIX + f.getKey(), v, Field.Store.YES));
                }
            }
            writer.updateDocument(new Term(ID, e.id()), d);
        }
    }

    /** Deletes a document; whether it existed. Visible to searches when it returns (durable after {@link #commit}). */
    public boolean delete(String id) throws IOException {
        DocumentChecks.checkLookup(id);
        return writer.write(w -> {
            boolean existed = get(id).isPresent();
            w.deleteDocuments(new Term(ID, id));
            writer.refreshUnlessAtomic();
            return existed;
        });
    }

    /** Makes every write so far durable. */
    public void commit() throws IOException {
        writer.commit();
    }

    /** Documents in the index. */
    public int size() throws IOException {
        IndexSearcher s = writer.acquire();
        try {
            return s.getIndexReader().numDocs();
        } finally {
            DocumentWriter.release(s);
        }
    }

    /** The document {@code id}. */
    public Optional<Stored> get(String id) throws IOException {
        DocumentChecks.checkLookup(id);
        IndexSearcher s = writer.acquire();
        try {
            TopDocs top = s.search(new TermQuery(new Term(ID, id)), 1);
            if (top.scoreDocs.length == 0) {
                return Optional.empty();
            }
            Document d = s.storedFields().document(top.scoreDocs[0].doc);
            return Optional.of(stored(d));
        } finally {
            DocumentWriter.release(s);
        }
    }

    /**
     * The stored vectors of the documents {@code ids} (those that exist), read from the index: what they were
     * indexed with, without encoding them again.
     */
    public Map<String, float[]> vectors(Collection<String> ids) throws IOException {
        Set<String> wanted = new HashSet<>(ids);
        Map<String, float[]> out = new HashMap<>();
        IndexSearcher s = writer.acquire();
        try {
            for (var leaf : s.getIndexReader().leaves()) {
                var values = leaf.reader().getFloatVectorValues(VECTOR);
                if (values == null) {
                    continue;
                }
                var stored = leaf.reader().storedFields();
                Bits live = leaf.reader().getLiveDocs();
                var it = values.iterator();
                for (int doc = it.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = it.nextDoc()) {
                    if (live != null && !live.get(doc)) {
                        continue;
                    }
                    String id = stored.document(doc, Set.of(ID)).get(ID);
                    if (wanted.contains(id)) {
                        out.put(id, values.vectorValue(it.index()).clone());
                    }
                }
            }
            return out;
        } finally {
            DocumentWriter.release(s);
        }
    }

    /** Every document, in index order. */
    public void forEach(Consumer<Stored> action) throws IOException {
        IndexSearcher s = writer.acquire();
        try {
            var reader = s.getIndexReader();
            var stored = s.storedFields();
            Bits live = MultiBits.getLiveDocs(reader);
            for (int doc = 0; doc < reader.maxDoc(); doc++) {
                if (live == null || live.get(doc)) {
                    Document d = stored.document(doc);
                    action.accept(stored(d));
                }
            }
        } finally {
            DocumentWriter.release(s);
        }
    }

    private static Stored stored(Document d) {
        Map<String, List<String>> fields = new TreeMap<>();
        for (var f : d.getFields()) {
            if (f.name().startsWith(FIELD_PREFIX)) {
                fields.computeIfAbsent(f.name().substring(FIELD_PREFIX.length()), x -> new ArrayList<>()).add(f.stringValue());
            }
        }
        return new Stored(d.get(ID), d.get(TITLE), d.get(TEXT), fields);
    }

    /** The {@code k} best documents for {@code text} by BM25 (any of its analysed terms may match). */
    public List<Hit> bm25(String text, int k) throws IOException {
        return bm25(text, k, Filter.NONE);
    }

    /** The same among the documents {@code filter} lets through. */
    public List<Hit> bm25(String text, int k, Filter filter) throws IOException {
        VectorChecks.checkK(k);
        BooleanQuery.Builder b = new BooleanQuery.Builder();
        int clauses = 0;
        for (String term : analyze(text)) {
            if (clauses++ < IndexSearcher.getMaxClauseCount()) {
                b.add(new TermQuery(new Term(BODY, term)), BooleanClause.Occur.SHOULD);
            }
        }
        if (clauses == 0) {
            return List.of();
        }
        Query q = b.build();
        if (!filter.anyOf().isEmpty()) {
            q = new BooleanQuery.Builder().add(q, BooleanClause.Occur.MUST).add(filter.query(), BooleanClause.Occur.FILTER).build();
        }
        return search(q, k);
    }

    /** The {@code k} documents whose vectors have the largest dot product with the unit vector {@code query} (HNSW). */
    public List<Hit> knn(float[] query, int k) throws IOException {
        return knn(query, k, Filter.NONE);
    }

    /** The same among the documents {@code filter} lets through (Lucene's filtered HNSW search: exact when few pass). */
    public List<Hit> knn(float[] query, int k, Filter filter) throws IOException {
        VectorChecks.checkK(k);
        DocumentChecks.checkVector(query, dim, "query");
        return search(filter.anyOf().isEmpty() ? new KnnFloatVectorQuery(VECTOR, query, k) : new KnnFloatVectorQuery(VECTOR, query, k, filter.query()), k);
    }

    private List<Hit> search(Query q, int k) throws IOException {
        IndexSearcher s = writer.acquire();
        try {
            TopDocs top = s.search(q, k);
            List<Hit> hits = new ArrayList<>(top.scoreDocs.length);
            var ids = s.storedFields();
            for (ScoreDoc sd : top.scoreDocs) {
                hits.add(new Hit(ids.document(sd.doc, Set.of(ID)).get(ID), sd.score));
            }
            return hits;
        } finally {
            DocumentWriter.release(s);
        }
    }

    /** The terms BM25 sees in {@code text}, in order (repeats kept). */
    public List<String> analyze(String text) throws IOException {
        List<String> out = new ArrayList<>();
        try (TokenStream ts = analyzer.tokenStream(BODY, text)) {
            CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
            ts.reset();
            while (ts.incrementToken()) {
                out.add(term.toString());
            }
            ts.end();
        }
        return out;
    }

    /** Every indexed term with the number of documents holding it (what IDF weights come from). */
    public Map<String, Integer> documentFrequencies() throws IOException {
        IndexSearcher s = writer.acquire();
        try {
            Map<String, Integer> out = new HashMap<>();
            Terms terms = MultiTerms.getTerms(s.getIndexReader(), BODY);
            if (terms != null) {
                TermsEnum it = terms.iterator();
                for (BytesRef t = it.next(); t != null; t = it.next()) {
                    out.put(t.utf8ToString(), it.docFreq());
                }
            }
            return out;
        } finally {
            DocumentWriter.release(s);
        }
    }

    private static String body(String title, String text) {
        return (title == null ? "" : title) + "\n" + (text == null ? "" : text);
    }

    /** Refuses an id a new document cannot have ({@link ResourceId#document}); the message quotes at most its start. */
    public static void checkId(String id) {
        ResourceId.document(id);
    }

    @Override
    public void close() throws IOException {
        writer.close();
    }
}
