package dev.attend.search.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.gpu.SharedData;
import dev.attend.search.Document;
import dev.attend.search.eval.TestCollection.Format;
import dev.attend.search.eval.TestCollection.Query;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The BEIR, TREC and Cranfield samples under {@code src/test/resources/collections}, and what goes wrong with such files. */
class CollectionLayoutsTest {

    private static Path sample(String name) throws URISyntaxException {
        return Path.of(CollectionLayoutsTest.class.getResource("/collections/" + name).toURI());
    }

    @Test
    void beirSampleReadsWithGradesAndTheTestSplit() throws Exception {
        Path dir = sample("beir-sample");
        assertThat(Format.detect(dir)).isEqualTo(Format.BEIR);
        TestCollection c = TestCollection.read(dir);
        assertThat(c.format()).isEqualTo(Format.BEIR);
        assertThat(c.name()).isEqualTo("beir-sample");
        assertThat(c.documents()).extracting(Document::id).containsExactly("d1", "d2", "d3", "4", "d5"); // a number as written
        assertThat(c.documents().get(0)).isEqualTo(new Document("d1", "Heat transfer in laminar boundary layers",
                "Measured heat transfer rates in a laminar boundary layer at high Mach number."));
        assertThat(c.documents().get(4).text()).isEqualTo("Strömung über eine Platte — naïve test.");
        assertThat(c.queries()).containsExactly(new Query("q1", "heat transfer laminar boundary layer"),
                new Query("q2", "buckling of shells"), new Query("q3", "a query without judgments in test"));
        // test.tsv: q1's d2 has score 0 (judged, not relevant); q9 and 'missing' are unknown.
        assertThat(c.grades()).containsOnlyKeys("q1", "q2");
        assertThat(c.grades().get("q1")).containsExactly(entry("d1", 2), entry("d3", 1));
        assertThat(c.grades().get("q2")).containsExactly(entry("d2", 1), entry("4", 1));
        assertThat(c.relevant().get("q1")).containsExactly("d1", "d3");
        assertThat(c.unknownJudgments()).isEqualTo(2);
        assertThat(c.judgedQueries()).extracting(Query::id).containsExactly("q1", "q2");

        TestCollection dev = TestCollection.read(dir, Format.BEIR, "dev");
        assertThat(dev.grades()).containsOnlyKeys("q3");
        assertThat(dev.judgedQueries()).extracting(Query::id).containsExactly("q3");
    }

    @Test
    void trecSampleReadsSgmlTopicsQrelsAndDocuments() throws Exception {
        Path dir = sample("trec-sample");
        assertThat(Format.detect(dir)).isEqualTo(Format.TREC);
        TestCollection c = TestCollection.read(dir);
        // docs/fbis3.trec, then docs/la.trec; the README is not a document file.
        assertThat(c.documents()).containsExactly(
                new Document("FBIS3-10082", "Crime Syndicates Cross Borders", "Organized crime groups operate across\nnational borders."),
                new Document("FBIS3-10169", "", "Weather report for the region."),
                new Document("LA010189-0001", "MAFIA FAMILIES EXPAND OVERSEAS",
                        "The families now run operations in Europe.\nPolice say the networks are international."),
                new Document("LA010189-0002", "", "Polio cases fell again this year as vaccination spread."));
        // 302 has an empty title: its description is searched.
        assertThat(c.queries()).containsExactly(new Query("301", "International Organized Crime"),
                new Query("302", "Is the disease of poliomyelitis under control in the world?"));
        // Grades 0 and -2 (junk) are not relevant; topic 303 is unknown.
        assertThat(c.grades().get("301")).containsExactly(entry("FBIS3-10082", 1), entry("LA010189-0001", 2));
        assertThat(c.grades().get("302")).containsExactly(entry("LA010189-0002", 1));
        assertThat(c.unknownJudgments()).isEqualTo(1);
    }

    @Test
    void trecTopicsMayBeTabSeparatedLines(@TempDir Path root) throws Exception {
        Path dir = copy(sample("trec-sample"), root.resolve("trec"));
        Files.writeString(dir.resolve("topics.301-302.txt"), "301\tinternational organized crime\n\n302\tpolio eradication\n");
        TestCollection c = TestCollection.read(dir);
        assertThat(c.queries()).containsExactly(new Query("301", "international organized crime"), new Query("302", "polio eradication"));

        Files.writeString(dir.resolve("topics.301-302.txt"), "301 no tab here\n");
        assertThatThrownBy(() -> TestCollection.read(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("topics.301-302.txt:1: expected SGML <top> topics or 'id<TAB>text'");
    }

    @Test
    void cranfieldAsDistributedRenumbersQueriesAndTurnsCodesIntoGains() throws Exception {
        Path dir = sample("cranfield-sample");
        assertThat(Format.detect(dir)).isEqualTo(Format.CRANFIELD);
        TestCollection c = TestCollection.read(dir);
        assertThat(c.documents()).extracting(Document::id).containsExactly("1", "2", "3");
        assertThat(c.documents().get(1).title()).isEqualTo("simple shear flow past a flat plate in an incompressible fluid of small\nviscosity .");
        // cran.qry's .I 001, 002, 004 are the judgments' queries 1, 2, 3.
        assertThat(c.queries()).extracting(Query::id).containsExactly("1", "2", "3");
        assertThat(c.queries().get(2).text()).startsWith("what problems of heat conduction in composite slabs");
        // Codes 1..4 -> gains 4..1; 5 (no interest) and -1 are not relevant; query 4 does not exist.
        assertThat(c.grades().get("1")).containsExactly(entry("1", 3), entry("3", 1));
        assertThat(c.grades().get("2")).containsExactly(entry("2", 4));
        assertThat(c.grades().get("3")).containsExactly(entry("1", 2));
        assertThat(c.unknownJudgments()).isEqualTo(1);
    }

    @Test
    void gzippedFilesReadAsPlainOnes(@TempDir Path root) throws Exception {
        Path dir = copy(sample("beir-sample"), root.resolve("beir"));
        for (String name : List.of("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")) {
            Path plain = dir.resolve(name);
            try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(dir.resolve(name + ".gz")))) {
                out.write(Files.readAllBytes(plain));
            }
            Files.delete(plain);
        }
        TestCollection gz = TestCollection.read(dir);
        TestCollection plain = TestCollection.read(sample("beir-sample"));
        assertThat(gz.documents()).isEqualTo(plain.documents());
        assertThat(gz.queries()).isEqualTo(plain.queries());
        assertThat(gz.grades()).isEqualTo(plain.grades());
    }

    @Test
    void malformedFilesAreReportedWithFileAndLine(@TempDir Path root) throws Exception {
        Path beir = copy(sample("beir-sample"), root.resolve("beir"));
        Files.writeString(beir.resolve("queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"ok\"}\n{\"_id\": \"q2\"\n");
        assertThatThrownBy(() -> TestCollection.read(beir)).isInstanceOf(IOException.class)
                .hasMessageContaining("queries.jsonl:2: not a JSON object");
        Files.writeString(beir.resolve("queries.jsonl"), "{\"text\": \"no id\"}\n");
        assertThatThrownBy(() -> TestCollection.read(beir)).isInstanceOf(IOException.class)
                .hasMessageContaining("queries.jsonl:1: the field '_id' is missing");
        Files.writeString(beir.resolve("queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"a\"}\n{\"_id\": \"q1\", \"text\": \"b\"}\n");
        assertThatThrownBy(() -> TestCollection.read(beir)).isInstanceOf(IOException.class)
                .hasMessageContaining("query id q1 is given twice");
        Files.writeString(beir.resolve("queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"a\"}\n");
        Files.writeString(beir.resolve("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\thigh\n");
        assertThatThrownBy(() -> TestCollection.read(beir)).isInstanceOf(IOException.class)
                .hasMessageContaining("test.tsv:2: expected 'query-id<TAB>corpus-id<TAB>score'");
        // A split is a file name, not a path.
        assertThatThrownBy(() -> TestCollection.read(beir, Format.BEIR, "../../etc/passwd")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> TestCollection.read(beir, Format.BEIR, "train")).isInstanceOf(IOException.class)
                .hasMessageContaining("train.tsv is missing");

        Path trec = copy(sample("trec-sample"), root.resolve("trec"));
        Files.writeString(trec.resolve("qrels.301-302.txt"), "301 0 FBIS3-10082\n");
        assertThatThrownBy(() -> TestCollection.read(trec)).isInstanceOf(IOException.class)
                .hasMessageContaining("qrels.301-302.txt:1: expected 'topic iteration document grade'");
        Files.writeString(trec.resolve("qrels.301-302.txt"), "301 0 FBIS3-10082 1\n");
        Files.writeString(trec.resolve("docs/broken.trec"), "<DOC>\n<DOCNO> X </DOCNO>\nno end\n");
        assertThatThrownBy(() -> TestCollection.read(trec)).isInstanceOf(IOException.class)
                .hasMessageContaining("broken.trec: <DOC> record 1 is not closed by </DOC>");
        Files.writeString(trec.resolve("docs/broken.trec"), "<DOC>\n<TEXT>no number</TEXT>\n</DOC>\n");
        assertThatThrownBy(() -> TestCollection.read(trec)).isInstanceOf(IOException.class)
                .hasMessageContaining("broken.trec: <DOC> record 1 has no <DOCNO>");
        Files.writeString(trec.resolve("docs/broken.trec"), "<DOC>\n<DOCNO> LA010189-0002 </DOCNO>\n</DOC>\n");
        assertThatThrownBy(() -> TestCollection.read(trec)).isInstanceOf(IOException.class)
                .hasMessageContaining("document id LA010189-0002 is given twice");

        Path cran = copy(sample("cranfield-sample"), root.resolve("cran"));
        Files.writeString(cran.resolve("cranqrel"), "1 1 2\n1 3\n");
        assertThatThrownBy(() -> TestCollection.read(cran)).isInstanceOf(IOException.class)
                .hasMessageContaining("cranqrel:2: expected 'query document code'");
    }

    @Test
    void aDirectoryOfNoKnownLayoutSaysWhatItExpects(@TempDir Path root) throws Exception {
        Files.writeString(root.resolve("notes.txt"), "hello");
        assertThatThrownBy(() -> TestCollection.read(root)).isInstanceOf(IOException.class)
                .hasMessageContaining("not a collection layout this reads").hasMessageContaining("[notes.txt]");
        assertThatThrownBy(() -> TestCollection.read(root.resolve("absent"))).isInstanceOf(IOException.class)
                .hasMessageContaining("is not a directory");
        assertThatThrownBy(() -> Format.of("msmarco")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("smart, beir, trec, cranfield");
        assertThatThrownBy(() -> TestCollection.read(sample("trec-sample"), Format.TREC, "test")).isInstanceOf(IllegalArgumentException.class);
    }

    /** ADI (SMART, shared data) written out in the BEIR and TREC layouts reads back as the same collection. */
    @Test
    void adiInEveryLayoutIsTheSameCollection(@TempDir Path root) throws Exception {
        Optional<Path> shared = SharedData.resolve("ir/adi");
        if (shared.isEmpty()) {
            System.out.println("skipped: ../shared/data/ir/adi not found");
        }
        Assumptions.assumeTrue(shared.isPresent(), "../shared/data/ir/adi not found");
        TestCollection adi = TestCollection.read(shared.get());
        ObjectMapper json = new ObjectMapper();

        Path beir = Files.createDirectories(root.resolve("adi-beir/qrels"));
        StringBuilder corpus = new StringBuilder();
        for (Document d : adi.documents()) {
            corpus.append(json.writeValueAsString(Map.of("_id", d.id(), "title", d.title(), "text", d.text()))).append('\n');
        }
        StringBuilder queries = new StringBuilder();
        StringBuilder qrels = new StringBuilder("query-id\tcorpus-id\tscore\n");
        StringBuilder topics = new StringBuilder();
        StringBuilder trecQrels = new StringBuilder();
        for (Query q : adi.queries()) {
            queries.append(json.writeValueAsString(Map.of("_id", q.id(), "text", q.text()))).append('\n');
            topics.append("<top>\n<num> Number: ").append(q.id()).append("\n<title> ").append(q.text()).append("\n</top>\n");
        }
        adi.grades().forEach((q, g) -> g.forEach((d, grade) -> {
            qrels.append(q).append('\t').append(d).append('\t').append(grade).append('\n');
            trecQrels.append(q).append(" 0 ").append(d).append(' ').append(grade).append('\n');
        }));
        Files.writeString(beir.resolveSibling("corpus.jsonl"), corpus);
        Files.writeString(beir.resolveSibling("queries.jsonl"), queries);
        Files.writeString(beir.resolve("test.tsv"), qrels);
        TestCollection fromBeir = TestCollection.read(beir.getParent());
        assertThat(fromBeir.documents()).isEqualTo(adi.documents());
        assertThat(fromBeir.queries()).isEqualTo(adi.queries());
        assertThat(fromBeir.grades()).isEqualTo(adi.grades());

        Path trec = Files.createDirectories(root.resolve("adi-trec"));
        StringBuilder docs = new StringBuilder();
        for (Document d : adi.documents()) {
            docs.append("<DOC>\n<DOCNO> ").append(d.id()).append(" </DOCNO>\n<TITLE>").append(d.title()).append("</TITLE>\n<TEXT>\n")
                    .append(d.text()).append("\n</TEXT>\n</DOC>\n");
        }
        Files.writeString(trec.resolve("adi.trec"), docs);
        Files.writeString(trec.resolve("topics.adi"), topics);
        Files.writeString(trec.resolve("qrels.adi"), trecQrels);
        TestCollection fromTrec = TestCollection.read(trec);
        assertThat(fromTrec.grades()).isEqualTo(adi.grades());
        assertThat(fromTrec.documents()).hasSameSizeAs(adi.documents());
        for (int i = 0; i < adi.documents().size(); i++) { // SGML text is read with its lines stripped
            Document a = adi.documents().get(i);
            Document b = fromTrec.documents().get(i);
            assertThat(b.id()).isEqualTo(a.id());
            assertThat(words(b.title())).isEqualTo(words(a.title()));
            assertThat(words(b.text())).isEqualTo(words(a.text()));
        }
        assertThat(fromTrec.queries()).extracting(q -> words(q.text())).isEqualTo(adi.queries().stream().map(q -> words(q.text())).toList());
    }

    private static String words(String s) {
        return s.strip().replaceAll("\\s+", " ");
    }

    private static Path copy(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target);
                }
            }
        }
        return to;
    }
}
