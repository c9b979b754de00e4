package dev.attend.search;

import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DurableFile;
import java.io.EOFException;
import java.io.IOException;
import java.io.UTFDataFormatException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The terms of a corpus (as its BM25 field analyses them) with dense ids, document frequencies and IDF weights: what a query's token
 * vector w(q) is made of. Fixed once built: a token modulation trained on it keeps meaning the same terms after
 * documents change (terms new since are not in it and do not modulate).
 */
public final class Vocabulary {

    /** A query's token vector: the distinct known terms' ids and weights. */
    public record TokenVector(int[] ids, float[] weights) {
        public int size() {
            return ids.length;
        }
    }

    private final List<String> terms;
    private final int[] documentFrequency;
    private final int documents;
    private final float[] idf;
    private final Map<String, Integer> ids = new HashMap<>();

    private Vocabulary(List<String> terms, int[] documentFrequency, int documents) {
        this.terms = List.copyOf(terms);
        this.documentFrequency = documentFrequency;
        this.documents = documents;
        this.idf = new float[terms.size()];
        for (int i = 0; i < terms.size(); i++) {
            ids.put(terms.get(i), i);
            int df = documentFrequency[i];
            idf[i] = (float) Math.log(1 + (documents - df + 0.5) / (df + 0.5));
        }
    }

    /**
     * From document frequencies over {@code documents} documents: terms in sorted order (so equal corpora give equal
     * ids), IDF as BM25's ln(1 + (N - df + 0.5) / (df + 0.5)).
     */
    public static Vocabulary of(Map<String, Integer> documentFrequencies, int documents) {
        TreeMap<String, Integer> sorted = new TreeMap<>(documentFrequencies);
        return new Vocabulary(new ArrayList<>(sorted.keySet()), sorted.values().stream().mapToInt(Integer::intValue).toArray(), documents);
    }

    public int size() {
        return terms.size();
    }

    /** The id of a term, or -1. */
    public int id(String term) {
        return ids.getOrDefault(term, -1);
    }

    public String term(int id) {
        return terms.get(id);
    }

    public float idf(int id) {
        return idf[id];
    }

    /** Documents holding the term. */
    public int documentFrequency(int id) {
        return documentFrequency[id];
    }

    /**
     * The distinct known terms of {@code analysed} (first occurrence order), weighted 1 or by IDF, divided by the
     * square root of their count: a 40-word span and a 3-word keyword query then move the modulation's logits by
     * amounts of one scale (with plain presence the span's sum was ten times the keywords', and no one scale of
     * {@code W} suited both).
     */
    public TokenVector tokens(List<String> analysed, boolean idfWeights) {
        LinkedHashSet<Integer> distinct = new LinkedHashSet<>();
        for (String t : analysed) {
            int id = id(t);
            if (id >= 0) {
                distinct.add(id);
            }
        }
        int[] out = distinct.stream().mapToInt(Integer::intValue).toArray();
        float[] w = new float[out.length];
        float scale = out.length == 0 ? 1f : (float) (1 / Math.sqrt(out.length));
        for (int i = 0; i < out.length; i++) {
            w[i] = (idfWeights ? idf[out[i]] : 1f) * scale;
        }
        return new TokenVector(out, w);
    }

    /** The codec name of the saved file. */
    static final String CODEC = "attend-vocabulary";
    static final int FORMAT_VERSION = 1;

    /**
     * Saves as a {@link DurableFile} of codec {@value #CODEC} (atomically, checksummed): documents (int), terms (int),
     * then per term its text ({@code writeUTF}) and document frequency (int).
     */
    public void save(Path file) throws IOException {
        DurableFile.write(file, CODEC, FORMAT_VERSION, out -> {
            out.writeInt(documents);
            out.writeInt(terms.size());
            for (int i = 0; i < terms.size(); i++) {
                out.writeUTF(terms.get(i));
                out.writeInt(documentFrequency[i]);
            }
        });
    }

    /** Saves the text format of the previous builds (no checksum): what tests of reading old files need. */
    void saveText(Path file) throws IOException {
        StringBuilder sb = new StringBuilder("documents\t").append(documents).append('\n');
        for (int i = 0; i < terms.size(); i++) {
            sb.append(terms.get(i)).append('\t').append(documentFrequency[i]).append('\n');
        }
        Files.writeString(file, sb, StandardCharsets.UTF_8);
    }

    /**
     * Reads a vocabulary {@link #save} wrote, or the text format of the previous builds (a line {@code documents N},
     * then lines {@code term \t df}).
     *
     * @throws CorruptFileException when the file is damaged (checksum, length, a count or line that does not parse)
     */
    public static Vocabulary load(Path file) throws IOException {
        if (!DurableFile.isFramed(file)) {
            return loadText(file);
        }
        try (DurableFile.Reader r = DurableFile.open(file, CODEC, FORMAT_VERSION, FORMAT_VERSION)) {
            var in = r.in();
            int documents = in.readInt();
            int n = in.readInt();
            if (documents < 0 || n < 0 || (long) n * 6 > r.payloadBytes()) {
                throw new CorruptFileException(file, "impossible counts: " + documents + " documents, " + n + " terms");
            }
            List<String> terms = new ArrayList<>(n);
            int[] df = new int[n];
            for (int i = 0; i < n; i++) {
                terms.add(in.readUTF());
                df[i] = in.readInt();
                if (df[i] < 0) {
                    throw new CorruptFileException(file, "term " + i + " has document frequency " + df[i]);
                }
            }
            return new Vocabulary(terms, df, documents);
        } catch (EOFException | UTFDataFormatException e) {
            throw new CorruptFileException(file, "unreadable: " + e, e);
        }
    }

    private static Vocabulary loadText(Path file) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new CorruptFileException(file, "not UTF-8 text", e);
        }
        if (lines.isEmpty() || !lines.get(0).startsWith("documents\t")) {
            throw new CorruptFileException(file, "line 1: expected 'documents<TAB>N'");
        }
        int documents = number(file, 1, lines.get(0).substring("documents\t".length()));
        List<String> terms = new ArrayList<>(lines.size() - 1);
        int[] df = new int[lines.size() - 1];
        for (int i = 1; i < lines.size(); i++) {
            String[] parts = lines.get(i).split("\t");
            if (parts.length != 2) {
                throw new CorruptFileException(file, "line " + (i + 1) + ": expected 'term<TAB>document frequency'");
            }
            terms.add(parts[0]);
            df[i - 1] = number(file, i + 1, parts[1]);
        }
        return new Vocabulary(terms, df, documents);
    }

    private static int number(Path file, int line, String s) throws IOException {
        try {
            int n = Integer.parseInt(s.strip());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new CorruptFileException(file, "line " + line + ": '" + s + "' is not a count");
    }
}
