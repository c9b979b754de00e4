package dev.attend.search.eval;

import dev.attend.search.Document;
import dev.attend.search.eval.TestCollection.Judgment;
import dev.attend.search.eval.TestCollection.Query;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The TREC layout: one topics file (name holding {@code topics}), one qrels file (name holding {@code qrels}), and the
 * documents in every other file of the directory and below it ({@code README*} and hidden files aside).
 *
 * <ul>
 *   <li>Topics: SGML {@code <top>} records ({@code <num> Number: 301}, {@code <title>}, {@code <desc>},
 *       {@code <narr>}), searched by their title (the description when a topic has no title); or lines
 *       {@code id<TAB>text} as newer tracks publish them.</li>
 *   <li>Qrels: lines {@code topic iteration document grade}; a grade of 0 or less (-2 marks junk in web tracks) is not
 *       relevant.</li>
 *   <li>Documents: {@code <DOC>} records with a {@code <DOCNO>}; the title is the first {@code <HEADLINE>},
 *       {@code <TITLE>}, {@code <HEAD>} or {@code <TI>}, the text every {@code <TEXT>} (or, without one, the record's
 *       other content), inner tags removed.</li>
 * </ul>
 */
final class TrecFiles {

    private static final Pattern TAG = Pattern.compile("<[^>]*>");
    private static final Pattern TOPIC_FIELD = Pattern.compile("(?is)<(num|title|desc|narr)>(.*?)(?=<(?:num|title|desc|narr|/top)>|\\z)");
    private static final Pattern TITLE = Pattern.compile("(?is)<(headline|title|head|ti)>(.*?)</\\1>");
    private static final Pattern TEXT = Pattern.compile("(?is)<text>(.*?)</text>");
    private static final Pattern DOCNO = Pattern.compile("(?is)<docno>\\s*(.*?)\\s*</docno>");

    private TrecFiles() {
    }

    static TestCollection read(Path dir) throws IOException {
        Path topicsFile = CollectionFiles.onlyFile(dir, n -> n.toLowerCase(Locale.ROOT).contains("topics"), "topics");
        Path qrelsFile = CollectionFiles.onlyFile(dir, n -> n.toLowerCase(Locale.ROOT).contains("qrels"), "qrels");
        List<Path> documentFiles;
        try (Stream<Path> files = Files.walk(dir)) {
            documentFiles = files.filter(Files::isRegularFile)
                    .filter(f -> !f.equals(topicsFile) && !f.equals(qrelsFile))
                    .filter(f -> !f.getFileName().toString().startsWith(".") && !f.getFileName().toString().toUpperCase(Locale.ROOT).startsWith("README"))
                    .sorted().toList();
        }
        if (documentFiles.isEmpty()) {
            throw new IOException(dir + ": no document files beside " + topicsFile.getFileName() + " and " + qrelsFile.getFileName());
        }
        List<Document> documents = new ArrayList<>();
        for (Path f : documentFiles) {
            documents(f, documents);
        }
        return TestCollection.of(dir, TestCollection.Format.TREC, documents, topics(topicsFile), qrels(qrelsFile));
    }

    private static String readAll(Path file) throws IOException {
        StringBuilder all = new StringBuilder();
        try (BufferedReader in = CollectionFiles.open(file)) {
            char[] buffer = new char[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                all.append(buffer, 0, n);
            }
        }
        return all.toString();
    }

    private static List<Query> topics(Path file) throws IOException {
        String all = readAll(file);
        List<Query> queries = new ArrayList<>();
        if (!all.toLowerCase(Locale.ROOT).contains("<top>")) {
            int lineNumber = 0;
            for (String line : all.split("\r?\n")) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                String[] columns = line.split("\t", 2);
                if (columns.length != 2 || columns[0].isBlank() || columns[1].isBlank()) {
                    throw new IOException(file + ":" + lineNumber + ": expected SGML <top> topics or 'id<TAB>text', found '" + line.strip() + "'");
                }
                queries.add(new Query(columns[0].strip(), columns[1].strip()));
            }
            return queries;
        }
        String[] tops = all.split("(?i)<top>");
        for (int t = 1; t < tops.length; t++) {
            String id = null;
            String title = "";
            String desc = "";
            Matcher m = TOPIC_FIELD.matcher(tops[t]);
            while (m.find()) {
                String value = clean(m.group(2));
                switch (m.group(1).toLowerCase(Locale.ROOT)) {
                    case "num" -> id = value.replaceFirst("(?i)^number:\\s*", "").strip();
                    case "title" -> title = value.replaceFirst("(?i)^topic:\\s*", "");
                    case "desc" -> desc = value.replaceFirst("(?i)^description:\\s*", "");
                    default -> { }
                }
            }
            if (id == null || id.isEmpty()) {
                throw new IOException(file + ": topic " + t + " has no <num>");
            }
            String text = title.isBlank() ? desc : title;
            if (text.isBlank()) {
                throw new IOException(file + ": topic " + id + " has neither a title nor a description");
            }
            queries.add(new Query(id, text));
        }
        if (queries.isEmpty()) {
            throw new IOException(file + ": no topics");
        }
        return queries;
    }

    private static List<Judgment> qrels(Path file) throws IOException {
        List<Judgment> judgments = new ArrayList<>();
        CollectionFiles.eachLine(file, (line, number) -> {
            String[] columns = line.strip().split("\\s+");
            Integer grade = columns.length == 4 ? CollectionFiles.integer(columns[3]) : null;
            if (grade == null) {
                throw new IOException(file + ":" + number + ": expected 'topic iteration document grade', found '" + line.strip() + "'");
            }
            judgments.add(new Judgment(columns[0], columns[2], grade));
        });
        return judgments;
    }

    private static void documents(Path file, List<Document> out) throws IOException {
        String all = readAll(file);
        String[] records = all.split("(?i)<doc>");
        if (records.length < 2) {
            throw new IOException(file + ": no <DOC> records (documents of the TREC layout are every file but the topics and qrels)");
        }
        if (!records[0].isBlank()) {
            throw new IOException(file + ": text before the first <DOC>");
        }
        for (int r = 1; r < records.length; r++) {
            String record = records[r];
            int end = record.toLowerCase(Locale.ROOT).lastIndexOf("</doc>");
            if (end < 0) {
                throw new IOException(file + ": <DOC> record " + r + " is not closed by </DOC>");
            }
            record = record.substring(0, end);
            Matcher docno = DOCNO.matcher(record);
            if (!docno.find() || docno.group(1).isBlank()) {
                throw new IOException(file + ": <DOC> record " + r + " has no <DOCNO>");
            }
            String id = docno.group(1);
            String rest = record.substring(0, docno.start()) + record.substring(docno.end());
            Matcher title = TITLE.matcher(rest);
            String titleText = title.find() ? clean(title.group(2)) : "";
            StringBuilder text = new StringBuilder();
            Matcher t = TEXT.matcher(rest);
            while (t.find()) {
                text.append(text.isEmpty() ? "" : "\n").append(clean(t.group(1)));
            }
            if (text.isEmpty()) {
                text.append(clean(TITLE.matcher(rest).replaceFirst("")));
            }
            out.add(new Document(id, titleText, text.toString()));
        }
    }

    /** Inner tags removed, lines stripped, blank lines dropped. */
    private static String clean(String s) {
        StringBuilder out = new StringBuilder();
        for (String line : TAG.matcher(s).replaceAll(" ").split("\r?\n")) {
            String l = line.strip().replaceAll("\\s{2,}", " ");
            if (!l.isEmpty()) {
                out.append(out.isEmpty() ? "" : "\n").append(l);
            }
        }
        return out.toString();
    }
}
