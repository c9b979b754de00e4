package dev.attend.search.eval;

import dev.attend.search.Document;
import dev.attend.search.eval.TestCollection.Judgment;
import dev.attend.search.eval.TestCollection.Query;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The SMART layout (CISI, MED, ADI, CRAN and their kin): one directory with a documents file {@code *.ALL}, a queries
 * file {@code *.QRY} and a judgments file {@code *.REL}.
 *
 * <p>Documents and queries are records. A record starts with a line {@code .I id}; its fields start with a line holding
 * a field marker, a dot and one capital letter ({@code .T} title, {@code .A} authors, {@code .W} text, {@code .B},
 * {@code .X}, {@code .K}, ...), and a field's content is the lines up to the next marker. Only {@code .T} and
 * {@code .W} are kept; the other fields are skipped, whatever their letter, so that collections with extra fields still
 * load. A field given twice in one record (ADI document 67 has two titles) keeps both contents, one after the other. A
 * line that starts with a dot but not with a marker ({@code .5 percent}) is content.
 *
 * <p>Judgments are lines {@code query doc [more columns]}: binary, every listed pair relevant (grade 1); the other
 * columns (a score of 0 in CISI and ADI, 1 in MED) are ignored.
 */
final class SmartFiles {

    /** {@code .X} or {@code .X rest}: a field marker; the rest of the line, if any, is the field's first line. */
    private static final Pattern MARKER = Pattern.compile("\\.([A-Z])(?:\\s+(.*))?");

    private SmartFiles() {
    }

    static TestCollection read(Path dir) throws IOException {
        List<Document> documents = documents(CollectionFiles.onlyFile(dir, suffix(".ALL"), "*.ALL"));
        List<Query> queries = queries(CollectionFiles.onlyFile(dir, suffix(".QRY"), "*.QRY"));
        Path judgmentsFile = CollectionFiles.onlyFile(dir, suffix(".REL"), "*.REL");
        List<Judgment> judgments = new ArrayList<>();
        CollectionFiles.eachLine(judgmentsFile, (line, number) -> {
            String[] columns = line.strip().split("\\s+");
            if (columns.length < 2) {
                throw new IOException(judgmentsFile + ":" + number + ": expected 'query-id document-id [more columns]', found '" + line.strip() + "'");
            }
            judgments.add(new Judgment(columns[0], columns[1], 1));
        });
        return TestCollection.of(dir, TestCollection.Format.SMART, documents, queries, judgments);
    }

    private static Predicate<String> suffix(String suffix) {
        return name -> name.toUpperCase(Locale.ROOT).endsWith(suffix);
    }

    /** The records of a SMART documents file: {@code .T} as title, {@code .W} as text. */
    static List<Document> documents(Path file) throws IOException {
        List<Document> documents = new ArrayList<>();
        for (SmartRecord r : readRecords(file)) {
            documents.add(new Document(r.id(), r.field('T'), r.field('W')));
        }
        return documents;
    }

    /** The records of a SMART queries file: title and text joined by a blank line where a query has both. */
    static List<Query> queries(Path file) throws IOException {
        List<Query> queries = new ArrayList<>();
        for (SmartRecord r : readRecords(file)) {
            queries.add(new Query(r.id(), joinNonEmpty(r.field('T'), r.field('W'))));
        }
        return queries;
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
        try (BufferedReader in = CollectionFiles.open(file)) {
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
}
