package dev.attend.search.eval;

import dev.attend.search.Document;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A classic IR test collection in SMART format (CISI, MED, ADI, CRAN and their kin): documents, queries
 * and binary relevance judgments, read from one directory that holds a documents file {@code *.ALL},
 * a queries file {@code *.QRY} and a judgments file {@code *.REL}.
 *
 * <p>Documents and queries are records. A record starts with a line {@code .I id}; its fields start with
 * a line holding a field marker, a dot and one capital letter ({@code .T} title, {@code .A} authors,
 * {@code .W} text, {@code .B}, {@code .X}, {@code .K}, ...), and a field's content is the lines up to the
 * next marker. Only {@code .T} and {@code .W} are kept; the other fields are skipped, whatever their
 * letter, so that collections with extra fields still load. A field given twice in one record (ADI
 * document 67 has two titles) keeps both contents, one after the other. A line that starts with a dot
 * but not with a marker ({@code .5 percent}) is content.
 *
 * <p>Judgments are lines {@code query doc [more columns]}; every listed pair counts as relevant and the
 * other columns (a score of 0 in CISI and ADI, 1 in MED) are ignored. A judgment that names a query or
 * document the collection lacks is skipped and counted ({@link #unknownJudgments()}), since published
 * collections carry such lines; anything else malformed is an {@link IOException} naming file and line.
 *
 * <p>Ids are kept as the strings the files hold, since some collections number records other than by
 * their position. Files are read as UTF-8 (the classic collections are ASCII); an undecodable byte
 * becomes U+FFFD rather than failing the collection.
 */
public final class SmartCollection {

    /** A query: its title and text fields joined by a blank line where it has both (CISI's queries 58 to 112). */
    public record Query(String id, String text) {
    }

    /** {@code .X} or {@code .X rest}: a field marker; the rest of the line, if any, is the field's first line. */
    private static final Pattern MARKER = Pattern.compile("\\.([A-Z])(?:\\s+(.*))?");

    private final String name;
    private final List<Document> documents;
    private final List<Query> queries;
    private final Map<String, Set<String>> relevant;
    private final List<Query> judgedQueries;
    private final int unknownJudgments;

    private SmartCollection(String name, List<Document> documents, List<Query> queries,
            Map<String, Set<String>> relevant, int unknownJudgments) {
        this.name = name;
        this.documents = documents;
        this.queries = queries;
        this.relevant = relevant;
        this.judgedQueries = queries.stream().filter(q -> relevant.containsKey(q.id())).toList();
        this.unknownJudgments = unknownJudgments;
    }

    /**
     * Reads the collection in {@code dir}, which must hold exactly one file of each suffix {@code .ALL},
     * {@code .QRY} and {@code .REL} (in any case).
     *
     * @throws IOException when a file is missing, given twice, unreadable or malformed, or when a file
     *                     repeats a record id
     */
    public static SmartCollection read(Path dir) throws IOException {
        List<Document> documents = new ArrayList<>();
        for (SmartRecord r : readRecords(onlyFile(dir, ".ALL"))) {
            documents.add(new Document(r.id(), r.field('T'), r.field('W')));
        }
        List<Query> queries = new ArrayList<>();
        for (SmartRecord r : readRecords(onlyFile(dir, ".QRY"))) {
            queries.add(new Query(r.id(), joinNonEmpty(r.field('T'), r.field('W'))));
        }
        Set<String> documentIds = new HashSet<>();
        documents.forEach(d -> documentIds.add(d.id()));
        Path judgmentsFile = onlyFile(dir, ".REL");
        Map<String, Set<String>> relevant = new LinkedHashMap<>();
        for (Query q : queries) {
            relevant.put(q.id(), new LinkedHashSet<>());
        }
        int unknown = 0;
        try (BufferedReader in = open(judgmentsFile)) {
            int lineNumber = 0;
            for (String line; (line = in.readLine()) != null; ) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                String[] columns = line.strip().split("\\s+");
                if (columns.length < 2) {
                    throw new IOException(judgmentsFile + ":" + lineNumber
                            + ": expected 'query-id document-id [more columns]', found '" + line.strip() + "'");
                }
                if (relevant.containsKey(columns[0]) && documentIds.contains(columns[1])) {
                    relevant.get(columns[0]).add(columns[1]);
                } else {
                    unknown++;
                }
            }
        }
        relevant.values().removeIf(Set::isEmpty);
        relevant.replaceAll((query, docs) -> Collections.unmodifiableSet(docs));
        return new SmartCollection(dir.getFileName().toString(), List.copyOf(documents), List.copyOf(queries),
                Collections.unmodifiableMap(relevant), unknown);
    }

    /** The directory's name, e.g. {@code cisi}. */
    public String name() {
        return name;
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
     * Query id to the ids of its relevant documents, for the queries with at least one judgment, in query
     * file order; each set in judgments file order.
     */
    public Map<String, Set<String>> relevant() {
        return relevant;
    }

    /** The queries with at least one judgment, in file order: the ones an evaluation can score. */
    public List<Query> judgedQueries() {
        return judgedQueries;
    }

    /** Judgment lines skipped because they name a query or document the collection lacks. */
    public int unknownJudgments() {
        return unknownJudgments;
    }

    /** One record of a SMART file: its id and its kept fields by letter. */
    private record SmartRecord(String id, Map<Character, StringBuilder> fields) {

        String field(char letter) {
            StringBuilder content = fields.get(letter);
            return content == null ? "" : content.toString().strip();
        }
    }

    private static List<SmartRecord> readRecords(Path file) throws IOException {
        List<SmartRecord> records = new ArrayList<>();
        Map<String, Integer> firstLineOfId = new HashMap<>();
        SmartRecord record = null;
        boolean inField = false; // a field marker came after the current record's .I
        StringBuilder field = null; // the content of the kept field being read; null in a skipped field
        try (BufferedReader in = open(file)) {
            int lineNumber = 0;
            for (String line; (line = in.readLine()) != null; ) {
                lineNumber++;
                Matcher marker = MARKER.matcher(line.stripTrailing());
                if (!marker.matches()) {
                    if (inField) {
                        appendLine(field, line);
                    } else if (!line.isBlank()) {
                        throw new IOException(file + ":" + lineNumber + ": text outside a field; expected "
                                + (record == null ? "'.I id'" : "a field marker such as .T or .W")
                                + ", found '" + line.strip() + "'");
                    }
                    continue;
                }
                char letter = marker.group(1).charAt(0);
                String rest = marker.group(2) == null ? "" : marker.group(2).strip();
                if (letter == 'I') {
                    if (!rest.matches("\\S+")) {
                        throw new IOException(file + ":" + lineNumber + ": expected '.I id', found '" + line.strip() + "'");
                    }
                    Integer earlier = firstLineOfId.putIfAbsent(rest, lineNumber);
                    if (earlier != null) {
                        throw new IOException(file + ":" + lineNumber + ": duplicate id " + rest
                                + " (first at line " + earlier + ")");
                    }
                    record = new SmartRecord(rest, new HashMap<>());
                    records.add(record);
                    field = null;
                    inField = false;
                    continue;
                }
                if (record == null) {
                    throw new IOException(file + ":" + lineNumber + ": field marker ." + letter + " before the first '.I id'");
                }
                inField = true;
                field = letter == 'T' || letter == 'W' ? record.fields().computeIfAbsent(letter, l -> new StringBuilder()) : null;
                if (!rest.isEmpty()) {
                    appendLine(field, rest);
                }
            }
        }
        if (records.isEmpty()) {
            throw new IOException(file + ": no records (no line '.I id')");
        }
        return records;
    }

    /** Adds a content line to a kept field (a null field is a skipped one), one line per line. */
    private static void appendLine(StringBuilder field, String line) {
        if (field != null) {
            if (!field.isEmpty()) {
                field.append('\n');
            }
            field.append(line.stripTrailing());
        }
    }

    private static String joinNonEmpty(String title, String text) {
        if (title.isEmpty()) {
            return text;
        }
        return text.isEmpty() ? title : title + "\n\n" + text;
    }

    private static BufferedReader open(Path file) throws IOException {
        return new BufferedReader(new InputStreamReader(Files.newInputStream(file), StandardCharsets.UTF_8));
    }

    private static Path onlyFile(Path dir, String suffix) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + " is not a directory");
        }
        List<Path> found;
        try (Stream<Path> files = Files.list(dir)) {
            found = files.filter(Files::isRegularFile)
                    .filter(f -> f.getFileName().toString().toUpperCase(Locale.ROOT).endsWith(suffix))
                    .sorted()
                    .toList();
        }
        if (found.size() != 1) {
            throw new IOException(dir + ": expected one *" + suffix + " file, found "
                    + (found.isEmpty() ? "none" : found.stream().map(f -> f.getFileName().toString()).toList()));
        }
        return found.getFirst();
    }
}
