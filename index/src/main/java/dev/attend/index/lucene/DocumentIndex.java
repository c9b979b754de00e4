package dev.attend.index.lucene;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.MultiTerms;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.BytesRef;

/**
 * Documents in one Lucene index, searchable two ways: BM25 over their words and nearest neighbours of a dense vector
 * (HNSW, dot product of unit vectors). Each document has an id (unique: adding an id again replaces the document),
 * a title and a text (stored, and analysed together into the BM25 field with Lucene's English analyzer: lower case,
 * stop words, Porter stemming) and a unit vector of the index's dimension.
 *
 * <p>Persistent: writes are visible to searches at once (near-real-time readers) and durable after {@link #commit}
 * (a crash loses what was added since the last commit, nothing before it). The vector dimension is kept in the
 * commit's user data; opening an index with another dimension is refused.
 */
public final class DocumentIndex implements Closeable {

    static final String ID = "id";
    static final String TITLE = "title";
    static final String TEXT = "text";
    static final String BODY = "body";
    static final String VECTOR = "vector";
    private static final String DIM_KEY = "attend.dim";
    /** Ids are Lucene terms (at most 32,766 bytes); a bound far below that keeps them ids. */
    public static final int MAX_ID_CHARS = 512;

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
            checkFields(anyOf, "filter");
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
    private static final java.util.regex.Pattern FIELD_NAME = java.util.regex.Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private static void checkFields(Map<String, List<String>> fields, String what) {
        if (fields.size() > MAX_FIELDS) {
            throw new IllegalArgumentException(what + " names " + fields.size() + " fields, more than " + MAX_FIELDS);
        }
        for (var e : fields.entrySet()) {
            if (e.getKey() == null || !FIELD_NAME.matcher(e.getKey()).matches()) {
                throw new IllegalArgumentException(what + " field name '" + e.getKey() + "' is not 1-64 of A-Z a-z 0-9 _ . -");
            }
            if (e.getValue() == null || e.getValue().size() > MAX_FIELD_VALUES) {
                throw new IllegalArgumentException(what + " field '" + e.getKey() + "' needs 0-" + MAX_FIELD_VALUES + " values");
            }
            for (String v : e.getValue()) {
                if (v == null || v.isEmpty() || v.length() > MAX_FIELD_VALUE_CHARS) {
                    throw new IllegalArgumentException(what + " field '" + e.getKey() + "' has a value that is empty or over "
                            + MAX_FIELD_VALUE_CHARS + " characters");
                }
            }
        }
    }

    /** A search hit: the document id and the score of the search that found it (BM25, or the dot product). */
    public record Hit(String id, float score) {
    }

    private final int dim;
    private final FSDirectory directory;
    private final Analyzer analyzer = new EnglishAnalyzer();
    private final IndexWriter writer;
    private final SearcherManager searchers;

    private DocumentIndex(int dim, FSDirectory directory, IndexWriter writer) throws IOException {
        this.dim = dim;
        this.directory = directory;
        this.writer = writer;
        this.searchers = new SearcherManager(writer, null);
    }

    /** Opens the index in {@code dir}, creating it (with vectors of {@code dim}) when there is none. */
    public static DocumentIndex open(Path dir, int dim) throws IOException {
        if (dim < 1) {
            throw new IllegalArgumentException("dim must be >= 1, got " + dim);
        }
        Files.createDirectories(dir);
        FSDirectory directory = FSDirectory.open(dir);
        IndexWriter writer = null;
        try {
            if (DirectoryReader.indexExists(directory)) {
                try (DirectoryReader reader = DirectoryReader.open(directory)) {
                    String stored = reader.getIndexCommit().getUserData().get(DIM_KEY);
                    if (stored != null && Integer.parseInt(stored) != dim) {
                        throw new IllegalArgumentException(dir + " holds vectors of dimension " + stored + ", not " + dim);
                    }
                }
            }
            writer = new IndexWriter(directory, new IndexWriterConfig(new EnglishAnalyzer()).setOpenMode(IndexWriterConfig.OpenMode.CREATE_OR_APPEND));
            writer.setLiveCommitData(Map.of(DIM_KEY, Integer.toString(dim)).entrySet());
            return new DocumentIndex(dim, directory, writer);
        } catch (IOException | RuntimeException e) {
            if (writer != null) {
                writer.close();
            }
            directory.close();
            throw e;
        }
    }

    public int dim() {
        return dim;
    }

    /** Adds documents (replacing those with the same ids); visible to searches when it returns. */
    public void add(List<Entry> entries) throws IOException {
        for (Entry e : entries) {
            check(e);
        }
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
        searchers.maybeRefreshBlocking();
    }

    /** Deletes a document; whether it existed. Visible to searches when it returns. */
    public boolean delete(String id) throws IOException {
        boolean existed = get(id).isPresent();
        writer.deleteDocuments(new Term(ID, id));
        searchers.maybeRefreshBlocking();
        return existed;
    }

    /** Makes every write so far durable. */
    public void commit() throws IOException {
        writer.setLiveCommitData(Map.of(DIM_KEY, Integer.toString(dim)).entrySet());
        writer.commit();
    }

    /** Documents in the index. */
    public int size() throws IOException {
        IndexSearcher s = searchers.acquire();
        try {
            return s.getIndexReader().numDocs();
        } finally {
            searchers.release(s);
        }
    }

    public Optional<Stored> get(String id) throws IOException {
        IndexSearcher s = searchers.acquire();
        try {
            TopDocs top = s.search(new TermQuery(new Term(ID, id)), 1);
            if (top.scoreDocs.length == 0) {
                return Optional.empty();
            }
            Document d = s.storedFields().document(top.scoreDocs[0].doc);
            return Optional.of(stored(d));
        } finally {
            searchers.release(s);
        }
    }

    /**
     * The stored vectors of the documents {@code ids} (those that exist), read from the index: what they were
     * indexed with, without encoding them again.
     */
    public Map<String, float[]> vectors(java.util.Collection<String> ids) throws IOException {
        java.util.Set<String> wanted = new java.util.HashSet<>(ids);
        Map<String, float[]> out = new HashMap<>();
        IndexSearcher s = searchers.acquire();
        try {
            for (var leaf : s.getIndexReader().leaves()) {
                var values = leaf.reader().getFloatVectorValues(VECTOR);
                if (values == null) {
                    continue;
                }
                var stored = leaf.reader().storedFields();
                org.apache.lucene.util.Bits live = leaf.reader().getLiveDocs();
                var it = values.iterator();
                for (int doc = it.nextDoc(); doc != org.apache.lucene.search.DocIdSetIterator.NO_MORE_DOCS; doc = it.nextDoc()) {
                    if (live != null && !live.get(doc)) {
                        continue;
                    }
                    String id = stored.document(doc, java.util.Set.of(ID)).get(ID);
                    if (wanted.contains(id)) {
                        out.put(id, values.vectorValue(it.index()).clone());
                    }
                }
            }
            return out;
        } finally {
            searchers.release(s);
        }
    }

    /** Every document, in index order. */
    public void forEach(java.util.function.Consumer<Stored> action) throws IOException {
        IndexSearcher s = searchers.acquire();
        try {
            var reader = s.getIndexReader();
            var stored = s.storedFields();
            org.apache.lucene.util.Bits live = org.apache.lucene.index.MultiBits.getLiveDocs(reader);
            for (int doc = 0; doc < reader.maxDoc(); doc++) {
                if (live == null || live.get(doc)) {
                    Document d = stored.document(doc);
                    action.accept(stored(d));
                }
            }
        } finally {
            searchers.release(s);
        }
    }

    private static Stored stored(Document d) {
        Map<String, List<String>> fields = new java.util.TreeMap<>();
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
        checkK(k);
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
        checkK(k);
        checkVector(query, "query");
        return search(filter.anyOf().isEmpty() ? new KnnFloatVectorQuery(VECTOR, query, k) : new KnnFloatVectorQuery(VECTOR, query, k, filter.query()), k);
    }

    private List<Hit> search(Query q, int k) throws IOException {
        IndexSearcher s = searchers.acquire();
        try {
            TopDocs top = s.search(q, k);
            List<Hit> hits = new ArrayList<>(top.scoreDocs.length);
            var ids = s.storedFields();
            for (ScoreDoc sd : top.scoreDocs) {
                hits.add(new Hit(ids.document(sd.doc, java.util.Set.of(ID)).get(ID), sd.score));
            }
            return hits;
        } finally {
            searchers.release(s);
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
        IndexSearcher s = searchers.acquire();
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
            searchers.release(s);
        }
    }

    private static String body(String title, String text) {
        return (title == null ? "" : title) + "\n" + (text == null ? "" : text);
    }

    private void check(Entry e) {
        if (e.id() == null || e.id().isBlank()) {
            throw new IllegalArgumentException("a document needs an id");
        }
        if (e.id().length() > MAX_ID_CHARS) {
            throw new IllegalArgumentException("a document id is at most " + MAX_ID_CHARS + " characters, got " + e.id().length());
        }
        checkVector(e.vector(), "document " + e.id() + "'s vector");
        checkFields(e.fields(), "document " + e.id() + "'s");
    }

    private void checkVector(float[] v, String what) {
        if (v == null || v.length != dim) {
            throw new IllegalArgumentException(what + " has " + (v == null ? "no" : v.length) + " dimensions, the index " + dim);
        }
        double norm = 0;
        for (float x : v) {
            if (!Float.isFinite(x)) {
                throw new IllegalArgumentException(what + " holds NaN or infinity");
            }
            norm += (double) x * x;
        }
        if (Math.abs(norm - 1) > 1e-3) {
            throw new IllegalArgumentException(what + " is not a unit vector (squared norm " + norm + ")");
        }
    }

    private static void checkK(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            searchers.close();
            writer.close(); // commits what is pending
        } finally {
            directory.close();
        }
    }
}
