package dev.attend.search.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.search.Document;
import dev.attend.search.eval.TestCollection.Judgment;
import dev.attend.search.eval.TestCollection.Query;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The BEIR layout: {@code corpus.jsonl} (one object per line: {@code _id}, {@code title}, {@code text}),
 * {@code queries.jsonl} ({@code _id}, {@code text}) and {@code qrels/SPLIT.tsv} (a header line, then
 * {@code query-id, corpus-id, score} separated by tabs; the score is the grade). Other fields ({@code metadata}) are
 * ignored; any of the files may be gzipped.
 */
final class BeirFiles {

    private static final ObjectMapper JSON = new ObjectMapper();

    private BeirFiles() {
    }

    static TestCollection read(Path dir, String split) throws IOException {
        List<Document> documents = new ArrayList<>();
        readLines(CollectionFiles.plainOrGzip(dir, "corpus.jsonl"), (o, where) ->
                documents.add(new Document(text(o, "_id", where, true), text(o, "title", where, false), text(o, "text", where, false))));
        List<Query> queries = new ArrayList<>();
        readLines(CollectionFiles.plainOrGzip(dir, "queries.jsonl"), (o, where) ->
                queries.add(new Query(text(o, "_id", where, true), text(o, "text", where, true))));
        Path qrels = qrelsFile(dir, split);
        List<Judgment> judgments = new ArrayList<>();
        CollectionFiles.eachLine(qrels, (line, number) -> {
            if (number == 1 && line.strip().startsWith("query-id")) {
                return; // the header
            }
            String[] columns = line.strip().split("\t");
            Integer grade = columns.length == 3 ? CollectionFiles.integer(columns[2].strip()) : null;
            if (grade == null) {
                throw new IOException(qrels + ":" + number + ": expected 'query-id<TAB>corpus-id<TAB>score' (an integer score), found '"
                        + line.strip() + "'");
            }
            judgments.add(new Judgment(columns[0].strip(), columns[1].strip(), grade));
        });
        return TestCollection.of(dir, TestCollection.Format.BEIR, documents, queries, judgments);
    }

    /** {@code qrels/SPLIT.tsv}; without a split, {@code test.tsv} or the only file there. */
    private static Path qrelsFile(Path dir, String split) throws IOException {
        Path qrels = dir.resolve("qrels");
        if (!Files.isDirectory(qrels)) {
            throw new IOException(dir + ": the qrels directory is missing");
        }
        if (split != null) {
            if (!split.matches("[A-Za-z0-9_.-]+") || split.startsWith(".")) {
                throw new IllegalArgumentException("split '" + split + "' is not a plain file name (letters, digits, '.', '_', '-')");
            }
            return CollectionFiles.plainOrGzip(qrels, split + ".tsv");
        }
        List<String> tsv = CollectionFiles.names(qrels).stream().filter(n -> n.endsWith(".tsv") || n.endsWith(".tsv.gz")).toList();
        if (tsv.contains("test.tsv") || tsv.contains("test.tsv.gz")) {
            return CollectionFiles.plainOrGzip(qrels, "test.tsv");
        }
        if (tsv.size() != 1) {
            throw new IOException(qrels + ": no test.tsv, and " + (tsv.isEmpty() ? "no other" : "several (" + tsv + "): name one with a split"));
        }
        return qrels.resolve(tsv.getFirst());
    }

    private interface LineHandler {
        void accept(JsonNode object, String where) throws IOException;
    }

    private static void readLines(Path file, LineHandler handler) throws IOException {
        CollectionFiles.eachLine(file, (line, number) -> {
            String where = file + ":" + number;
            JsonNode o;
            try {
                o = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                throw new IOException(where + ": not a JSON object (" + e.getOriginalMessage() + ")");
            }
            if (o == null || !o.isObject()) {
                throw new IOException(where + ": not a JSON object");
            }
            handler.accept(o, where);
        });
    }

    /** A string field (numbers are taken as written, since some corpora number their ids); required or "". */
    private static String text(JsonNode o, String field, String where, boolean required) throws IOException {
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IOException(where + ": the field '" + field + "' is missing");
            }
            return "";
        }
        if (!v.isValueNode() || v.isBoolean()) {
            throw new IOException(where + ": the field '" + field + "' is not a string");
        }
        String s = v.asText();
        if (required && s.isBlank()) {
            throw new IOException(where + ": the field '" + field + "' is empty");
        }
        return s;
    }
}
