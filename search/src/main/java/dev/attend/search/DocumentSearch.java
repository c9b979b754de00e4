package dev.attend.search;

import dev.attend.index.lucene.DocumentIndex;
import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.UnsupportedFormatException;
import dev.attend.search.LexicalFiles.Lexical;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Hybrid document search over one {@link DocumentIndex}: BM25, dense (the query's sentence vector against the
 * documents'), LexSemBridge (the dense query modulated by its terms, {@link LexSemModulation}; documents as they
 * are), and BM25 fused with either dense ranking (reciprocal rank or normalised linear fusion).
 *
 * <p>On disk, under one directory: {@code lucene/} (the documents), {@code vocabulary.tsv} (the terms a modulation
 * was trained on, with IDF), {@code lexsem.bin} (the modulation) and {@code lexsem.properties} (whether its token
 * vectors are IDF-weighted), the last three written by {@link #setModulation} through {@link LexicalFiles}, each a
 * checksummed {@link DurableFile} (the unchecked formats of earlier builds are still read).
 *
 * <p><b>Damage.</b> A damaged index is moved aside by {@link DocumentIndex#open} (an empty one takes its place); a
 * damaged or inconsistent modulation (any of its three files; or files of two fits, which the settings, written last,
 * tell by naming the exact vocabulary and modulation files of theirs) is moved to {@code <dir>/quarantine/} and
 * reported to the {@link DamageLog}, and the search opens without it ({@link #modulationDamage()} says why; the
 * modulated modes answer as before a first fit until the modulation is fitted again). {@link #damage()} lists both.
 * An index or a modulation file that is intact but that this build cannot read (another version; a checksummed
 * payload that does not parse) is not damage: it is left where it is, reported with no quarantine, and {@link #open}
 * throws an {@link UnsupportedFormatException} naming it (never an empty index, nor a new fit, over it).
 */
public final class DocumentSearch implements Closeable {

    /** How a query is answered. */
    public enum Mode {
        BM25, DENSE, LEXSEM, RRF, LINEAR, RRF_LEXSEM, LINEAR_LEXSEM;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        /** A mode by its wire name ({@code bm25}, {@code dense}, {@code lexsem}, {@code rrf}, {@code linear}, {@code rrf-lexsem}, {@code linear-lexsem}). */
        public static Mode of(String name) {
            for (Mode m : values()) {
                if (m.wireName().equals(name)) {
                    return m;
                }
            }
            throw new IllegalArgumentException("unknown search mode '" + name + "': one of bm25, dense, lexsem, rrf, linear, rrf-lexsem, "
                    + "linear-lexsem");
        }

        boolean modulated() {
            return this == LEXSEM || this == RRF_LEXSEM || this == LINEAR_LEXSEM;
        }
    }

    /** What a query's token vector w(q) is made of. */
    public enum Tokens {
        /** the index's analysed terms (stemmed words, stop words out) */
        TERMS,
        /** the sentence encoder's word pieces ({@link WordPieces}) */
        WORD_PIECES;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static Tokens of(String name) {
            for (Tokens t : values()) {
                if (t.wireName().equals(name)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("unknown token kind '" + name + "': terms or word-pieces");
        }
    }

    /** A hit with what each component said about it (NaN score and rank 0 for a component that did not find it). */
    public record Hit(String id, double score, float bm25Score, int bm25Rank, float denseScore, int denseRank) {
    }

    /** How deep each component's list goes before fusion. */
    public static final int FUSION_DEPTH = 100;
    /** The lexical weight of linear fusion. */
    public static final double LINEAR_LEXICAL_WEIGHT = 0.5;

    private final Path dir;
    private final DocumentIndex index;
    private final TextEmbedder embedder;
    private volatile Lexical lexical; // null without a modulation
    /** Why the saved modulation was moved aside at open, or null. */
    private final DamageLog.Damage modulationDamage;
    /** Serialises {@link #setModulation} (its three files are replaced together). */
    private final Object modulationLock = new Object();

    private DocumentSearch(Path dir, DocumentIndex index, TextEmbedder embedder, Lexical lexical, DamageLog.Damage modulationDamage) {
        this.dir = dir;
        this.index = index;
        this.embedder = embedder;
        this.lexical = lexical;
        this.modulationDamage = modulationDamage;
    }

    /**
     * Opens (or creates) the search directory {@code dir}, with its modulation when one was saved. Damage does not
     * stop it (see the class comment): {@link #damage()} lists what was moved aside.
     */
    public static DocumentSearch open(Path dir, TextEmbedder embedder) throws IOException {
        DocumentIndex index = DocumentIndex.open(dir.resolve("lucene"), embedder.dim());
        try {
            Lexical lexical = null;
            DamageLog.Damage damage = null;
            try {
                lexical = LexicalFiles.load(dir, embedder.dim());
            } catch (CorruptFileException e) {
                damage = LexicalFiles.quarantine(dir, e);
            } catch (UnsupportedFormatException e) { // intact, of another build: never moved aside, never written over
                String why = String.valueOf(e.getMessage());
                why = why.startsWith(e.file() + ": ") ? why.substring(e.file().toString().length() + 2) : why;
                DamageLog.report(DocumentIndex.STORE, "modulation file " + e.file().getFileName(), e.file(), null, why
                        + "; left in place, the search not opened (not damage: move the modulation's files away to run without it)");
                UnsupportedFormatException refused = new UnsupportedFormatException(e.file(), "the search at " + dir + " is not opened:"
                        + " its LexSemBridge modulation is intact but this build cannot read it (" + e.getMessage() + "). It was left"
                        + " as it is; open it with a build that reads it, or move the modulation's files ("
                        + LexicalFiles.VOCABULARY_FILE + ", " + LexicalFiles.MODULATION_FILE + ", " + LexicalFiles.SETTINGS_FILE
                        + ") away to run without it");
                refused.initCause(e);
                throw refused;
            }
            return new DocumentSearch(dir, index, embedder, lexical, damage);
        } catch (IOException | RuntimeException e) {
            index.close();
            throw e;
        }
    }

    /** Why the saved modulation was moved aside when this search was opened (fit it again), or null. */
    public DamageLog.Damage modulationDamage() {
        return modulationDamage;
    }

    /** What was found damaged and moved aside when this search was opened: its index, its modulation. Empty when clean. */
    public List<DamageLog.Damage> damage() {
        List<DamageLog.Damage> out = new ArrayList<>();
        if (index.damage() != null) {
            out.add(index.damage());
        }
        if (modulationDamage != null) {
            out.add(modulationDamage);
        }
        return out;
    }

    public DocumentIndex index() {
        return index;
    }

    public TextEmbedder embedder() {
        return embedder;
    }

    /** Told after each batch of documents embedded and indexed. */
    public interface Progress {
        void indexed(int done, int total);
    }

    /**
     * Embeds (title and text together) and indexes {@code documents} in batches, then commits: all of them or none
     * ({@link DocumentIndex#atomically}). Ids are checked first ({@link DocumentIndex#checkId}).
     *
     * @throws StorageErrors.StorageFullException when the disk is full (nothing of the call applied)
     */
    public void add(List<Document> documents, Progress progress) throws IOException {
        for (int i = 0; i < documents.size(); i++) {
            try {
                DocumentIndex.checkId(documents.get(i).id());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("document " + i + ": " + e.getMessage(), e);
            }
        }
        int batch = 32;
        index.atomically(() -> {
            for (int from = 0; from < documents.size(); from += batch) {
                List<Document> part = documents.subList(from, Math.min(documents.size(), from + batch));
                List<float[]> vectors = embedder.embedAll(part.stream().map(Document::content).toList());
                List<DocumentIndex.Entry> entries = new ArrayList<>(part.size());
                for (int i = 0; i < part.size(); i++) {
                    Document d = part.get(i);
                    entries.add(new DocumentIndex.Entry(d.id(), d.title(), d.text(), vectors.get(i), d.fields()));
                }
                index.add(entries);
                progress.indexed(from + part.size(), documents.size());
            }
        });
    }

    /** Deletes a document and commits; whether it existed. */
    public boolean delete(String id) throws IOException {
        boolean[] existed = {false};
        index.atomically(() -> existed[0] = index.delete(id));
        return existed[0];
    }

    /** The vocabulary of the documents indexed now, in {@code tokens} (what a new modulation is trained on). */
    public Vocabulary currentVocabulary(Tokens tokens) throws IOException {
        if (tokens == Tokens.TERMS) {
            return Vocabulary.of(index.documentFrequencies(), index.size());
        }
        Map<String, Integer> df = new HashMap<>();
        index.forEach(d -> {
            for (String piece : new HashSet<>(WordPieces.shared().pieces(new Document(d.id(), d.title(), d.text()).content()))) {
                df.merge(piece, 1, Integer::sum);
            }
        });
        return Vocabulary.of(df, index.size());
    }

    /** {@code text} as {@code tokens} (repeats kept, in order). */
    public List<String> tokenize(String text, Tokens tokens) throws IOException {
        return tokens == Tokens.TERMS ? index.analyze(text) : WordPieces.shared().pieces(text);
    }

    /** The vocabulary the current modulation uses, or null without one. */
    public Vocabulary vocabulary() {
        Lexical l = lexical;
        return l == null ? null : l.vocabulary();
    }

    public LexSemModulation modulation() {
        Lexical l = lexical;
        return l == null ? null : l.modulation();
    }

    /**
     * Uses (and saves beside the index) a modulation trained on {@code vocabulary} of {@code tokens}, weighting them
     * by IDF or not. When saving fails (a full disk: {@link StorageErrors.StorageFullException}) the modulation in use
     * stays and its files are put back as they were where that can be done.
     */
    public void setModulation(Vocabulary vocabulary, LexSemModulation modulation, boolean idfWeights, Tokens tokens) throws IOException {
        if (modulation.vocabulary() != vocabulary.size() || modulation.dim() != embedder.dim()) {
            throw new IllegalArgumentException("the modulation (" + modulation.vocabulary() + " x " + modulation.dim()
                    + ") does not fit the vocabulary (" + vocabulary.size() + ") and encoder (" + embedder.dim() + ")");
        }
        synchronized (modulationLock) {
            Lexical before = lexical;
            try {
                LexicalFiles.save(dir, new Lexical(vocabulary, modulation, idfWeights, tokens));
            } catch (IOException e) {
                try {
                    if (before != null) {
                        LexicalFiles.save(dir, before);
                    } else {
                        Files.deleteIfExists(dir.resolve(LexicalFiles.MODULATION_FILE)); // a vocabulary alone loads as no modulation
                    }
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed); // the next open finds the files inconsistent and moves them aside
                }
                if (StorageErrors.isDiskFull(e) && !(e instanceof StorageErrors.StorageFullException)) {
                    throw new StorageErrors.StorageFullException("the disk of the search directory is full: the modulation was not "
                            + "saved (the previous one stays in use); free space and fit again", e);
                }
                throw e;
            }
            this.lexical = new Lexical(vocabulary, modulation, idfWeights, tokens);
        }
    }

    /** The top {@code k} documents for {@code query} by {@code mode}. */
    public List<Hit> search(String query, Mode mode, int k) throws IOException {
        return search(query, mode == Mode.BM25 || query == null || query.isBlank() ? null : embedder.embed(query), mode, k);
    }

    /**
     * The same with the query's sentence vector already computed ({@code embedding}, unused by BM25; an evaluation
     * embeds each query once for every mode).
     */
    public List<Hit> search(String query, float[] embedding, Mode mode, int k) throws IOException {
        return search(query, embedding, mode, k, DocumentIndex.Filter.NONE);
    }

    /** The same among the documents {@code filter} lets through (each mode's searches filtered, not its results). */
    public List<Hit> search(String query, float[] embedding, Mode mode, int k, DocumentIndex.Filter filter) throws IOException {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
        if (query == null || query.isBlank()) {
            throw new IllegalArgumentException("the query is empty");
        }
        Lexical l = lexical; // one modulation for the whole query, whatever a concurrent fit replaces
        if (mode.modulated() && l == null) {
            throw new IllegalStateException("mode " + mode.wireName() + " needs a fitted modulation"
                    + (modulationDamage != null ? " (the saved one was damaged and moved aside; fit it again)" : ""));
        }
        if (mode == Mode.BM25) {
            return single(index.bm25(query, k, filter), true);
        }
        float[] dense = embedding;
        if (mode.modulated()) {
            Vocabulary.TokenVector t = l.vocabulary().tokens(tokenize(query, l.tokens()), l.idfWeights());
            dense = l.modulation().modulate(t.ids(), t.weights(), dense);
        }
        if (mode == Mode.DENSE || mode == Mode.LEXSEM) {
            return single(index.knn(dense, k, filter), false);
        }
        int depth = Math.max(k, FUSION_DEPTH);
        List<DocumentIndex.Hit> lexical = index.bm25(query, depth, filter);
        List<DocumentIndex.Hit> semantic = index.knn(dense, depth, filter);
        List<Fusion.Fused> fused = mode == Mode.RRF || mode == Mode.RRF_LEXSEM ? Fusion.reciprocalRank(lexical, semantic, k)
                : Fusion.linear(lexical, semantic, LINEAR_LEXICAL_WEIGHT, k);
        return fused.stream().map(f -> new Hit(f.id(), f.score(), f.lexicalScore(), f.lexicalRank(), f.denseScore(), f.denseRank())).toList();
    }

    private static List<Hit> single(List<DocumentIndex.Hit> hits, boolean lexical) {
        List<Hit> out = new ArrayList<>(hits.size());
        for (int i = 0; i < hits.size(); i++) {
            DocumentIndex.Hit h = hits.get(i);
            out.add(lexical ? new Hit(h.id(), h.score(), h.score(), i + 1, Float.NaN, 0) : new Hit(h.id(), h.score(), Float.NaN, 0, h.score(), i + 1));
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        index.close();
    }
}
