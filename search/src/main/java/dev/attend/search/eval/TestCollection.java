package dev.attend.search.eval;

import dev.attend.search.Document;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * An IR test collection: documents, queries and graded relevance judgments, read from a directory in one of the
 * layouts IR users bring ({@link Format}): SMART (CISI, MED, ADI and kin), BEIR, TREC, and Cranfield as published.
 *
 * <p>A judgment's grade is what its collection says, mapped to a gain where a collection counts the other way round
 * (Cranfield's 1 is its best); a grade of 0 or less is a judged non-relevant document and is not kept. A judgment that
 * names a query or document the collection lacks is skipped and counted ({@link #unknownJudgments()}), since published
 * collections carry such lines; anything else malformed is an {@link IOException} naming file and line. Ids are the
 * strings the files hold. Files ending in {@code .gz} are read through gzip.
 */
public final class TestCollection {

    /** A query: its text as searched (title and text joined by a blank line where a layout has both). */
    public record Query(String id, String text) {
    }

    /** One line of a judgments file: a document's grade for a query. */
    record Judgment(String query, String document, int grade) {
    }

    /** The directory layouts read. */
    public enum Format {
        /** One file each of {@code *.ALL} (documents), {@code *.QRY} (queries), {@code *.REL} (judgments): {@link SmartFiles}. */
        SMART,
        /** {@code corpus.jsonl}, {@code queries.jsonl}, {@code qrels/SPLIT.tsv}: {@link BeirFiles}. */
        BEIR,
        /** A topics file, a qrels file and {@code <DOC>} document files: {@link TrecFiles}. */
        TREC,
        /** {@code cran.all.1400}, {@code cran.qry}, {@code cranqrel} as distributed: {@link CranfieldFiles}. */
        CRANFIELD;

        /** The lower-case name the command line uses. */
        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** A format by its {@link #wireName()}. */
        public static Format of(String name) {
            for (Format f : values()) {
                if (f.wireName().equalsIgnoreCase(name)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown collection format '" + name + "': expected one of smart, beir, trec, cranfield");
        }

        /**
         * The layout of {@code dir}, told by the files it holds: {@code corpus.jsonl} (BEIR), {@code cran.all.1400}
         * (Cranfield), a {@code *.ALL} file (SMART), a qrels and a topics file (TREC).
         */
        public static Format detect(Path dir) throws IOException {
            checkDirectory(dir);
            if (Files.isRegularFile(dir.resolve("corpus.jsonl")) || Files.isRegularFile(dir.resolve("corpus.jsonl.gz"))) {
                return BEIR;
            }
            if (Files.isRegularFile(dir.resolve("cran.all.1400"))) {
                return CRANFIELD;
            }
            List<String> names = CollectionFiles.names(dir);
            if (names.stream().anyMatch(n -> n.toUpperCase(Locale.ROOT).endsWith(".ALL"))) {
                return SMART;
            }
            boolean qrels = names.stream().anyMatch(n -> n.toLowerCase(Locale.ROOT).contains("qrels"));
            boolean topics = names.stream().anyMatch(n -> n.toLowerCase(Locale.ROOT).contains("topics"));
            if (qrels && topics) {
                return TREC;
            }
            throw new IOException(dir + ": not a collection layout this reads (files " + names + "); expected corpus.jsonl "
                    + "(BEIR), cran.all.1400 (Cranfield), a *.ALL file (SMART), or a *qrels* and a *topics* file (TREC)");
        }
    }

    private final String name;
    private final Format format;
    private final List<Document> documents;
    private final List<Query> queries;
    private final Map<String, Map<String, Integer>> grades;
    private final Map<String, Set<String>> relevant;
    private final List<Query> judgedQueries;
    private final int unknownJudgments;

    private TestCollection(String name, Format format, List<Document> documents, List<Query> queries,
            Map<String, Map<String, Integer>> grades, int unknownJudgments) {
        this.name = name;
        this.format = format;
        this.documents = documents;
        this.queries = queries;
        this.grades = grades;
        Map<String, Set<String>> binary = new LinkedHashMap<>();
        grades.forEach((q, g) -> binary.put(q, Collections.unmodifiableSet(g.keySet())));
        this.relevant = Collections.unmodifiableMap(binary);
        this.judgedQueries = queries.stream().filter(q -> grades.containsKey(q.id())).toList();
        this.unknownJudgments = unknownJudgments;
    }

    /** Reads the collection in {@code dir} in the layout its files tell ({@link Format#detect}). */
    public static TestCollection read(Path dir) throws IOException {
        return read(dir, Format.detect(dir), null);
    }

    /**
     * Reads the collection in {@code dir} as {@code format}.
     *
     * @param split BEIR's judgments file {@code qrels/SPLIT.tsv} (null: {@code test}, or the only one there is);
     *              must be null for the other layouts
     * @throws IOException when a file is missing, given twice, unreadable or malformed, or repeats an id
     */
    public static TestCollection read(Path dir, Format format, String split) throws IOException {
        checkDirectory(dir);
        if (split != null && format != Format.BEIR) {
            throw new IllegalArgumentException("a split names one of BEIR's qrels files; the " + format.wireName() + " layout has none");
        }
        return switch (format) {
            case SMART -> SmartFiles.read(dir);
            case BEIR -> BeirFiles.read(dir, split);
            case TREC -> TrecFiles.read(dir);
            case CRANFIELD -> CranfieldFiles.read(dir);
        };
    }

    /**
     * A collection of these parts: ids checked unique, judgments of unknown queries or documents counted and skipped,
     * grades of 0 or less dropped, a pair judged twice keeping its higher grade.
     */
    static TestCollection of(Path dir, Format format, List<Document> documents, List<Query> queries, List<Judgment> judgments)
            throws IOException {
        Set<String> documentIds = new HashSet<>();
        for (Document d : documents) {
            if (!documentIds.add(d.id())) {
                throw new IOException(dir + ": document id " + d.id() + " is given twice");
            }
        }
        Map<String, Map<String, Integer>> grades = new LinkedHashMap<>();
        for (Query q : queries) {
            if (grades.put(q.id(), new LinkedHashMap<>()) != null) {
                throw new IOException(dir + ": query id " + q.id() + " is given twice");
            }
        }
        int unknown = 0;
        for (Judgment j : judgments) {
            Map<String, Integer> g = grades.get(j.query());
            if (g == null || !documentIds.contains(j.document())) {
                unknown++;
            } else if (j.grade() > 0) {
                g.merge(j.document(), j.grade(), Math::max);
            }
        }
        grades.values().removeIf(Map::isEmpty);
        grades.replaceAll((query, g) -> Collections.unmodifiableMap(g));
        return new TestCollection(dir.toAbsolutePath().normalize().getFileName().toString(), format, List.copyOf(documents),
                List.copyOf(queries), Collections.unmodifiableMap(grades), unknown);
    }

    static void checkDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + " is not a directory");
        }
    }

    /** The directory's name, e.g. {@code cisi}. */
    public String name() {
        return name;
    }

    /** The layout it was read from. */
    public Format format() {
        return format;
    }

    /** The documents in file order. */
    public List<Document> documents() {
        return documents;
    }

    /** Every query in file order, judged or not. */
    public List<Query> queries() {
        return queries;
    }

    /**
     * Query id to its relevant documents' grades (each above 0), for the queries with at least one relevant document,
     * in query order; each map in judgments file order.
     */
    public Map<String, Map<String, Integer>> grades() {
        return grades;
    }

    /** {@link #grades()} as sets: every graded document counts as relevant. */
    public Map<String, Set<String>> relevant() {
        return relevant;
    }

    /** The queries with at least one relevant document, in file order: the ones an evaluation can score. */
    public List<Query> judgedQueries() {
        return judgedQueries;
    }

    /** Judgment lines skipped because they name a query or document the collection lacks. */
    public int unknownJudgments() {
        return unknownJudgments;
    }
}
