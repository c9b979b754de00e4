package dev.attend.search.eval;

import dev.attend.search.Document;
import dev.attend.search.eval.TestCollection.Judgment;
import dev.attend.search.eval.TestCollection.Query;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Cranfield as distributed: {@code cran.all.1400} and {@code cran.qry} in SMART records ({@link SmartFiles}) and
 * {@code cranqrel}, lines {@code query document code}.
 *
 * <p>Two things differ from the SMART layout. The judgments number the queries 1 to 225 by their place in
 * {@code cran.qry}, whose own {@code .I} numbers skip (001, 002, 004, ...): queries are renumbered by place so that
 * both agree. And the codes are graded the other way round: 1 a complete answer, 2 high relevance, 3 useful, 4 of
 * minimum interest, 5 of no interest (and -1, which the distribution leaves unexplained); codes 1-4 become gains 4-1 and
 * the others are not relevant.
 */
final class CranfieldFiles {

    private CranfieldFiles() {
    }

    static TestCollection read(Path dir) throws IOException {
        List<Document> documents = SmartFiles.documents(CollectionFiles.plainOrGzip(dir, "cran.all.1400"));
        List<Query> queries = new ArrayList<>();
        for (Query q : SmartFiles.queries(CollectionFiles.plainOrGzip(dir, "cran.qry"))) {
            queries.add(new Query(Integer.toString(queries.size() + 1), q.text()));
        }
        Path judgmentsFile = CollectionFiles.plainOrGzip(dir, "cranqrel");
        List<Judgment> judgments = new ArrayList<>();
        CollectionFiles.eachLine(judgmentsFile, (line, number) -> {
            String[] columns = line.strip().split("\\s+");
            Integer code = columns.length == 3 ? CollectionFiles.integer(columns[2]) : null;
            if (code == null) {
                throw new IOException(judgmentsFile + ":" + number + ": expected 'query document code', found '" + line.strip() + "'");
            }
            judgments.add(new Judgment(columns[0], columns[1], code >= 1 && code <= 4 ? 5 - code : 0));
        });
        return TestCollection.of(dir, TestCollection.Format.CRANFIELD, documents, queries, judgments);
    }
}
