package dev.attend.search.eval;

import dev.attend.search.Document;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.SharedData;
import dev.attend.search.eval.TestCollection.Query;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SmartLayoutTest {

    private static final String DOCUMENTS = """
            .I 10
            .T
            Cataloguing rules
            for small libraries
            .A
            Smith, J.
            .W
              Rules for cataloguing.
            .5 percent of the text starts with a dot.

            .X
            3\t1\t10
            .I 3
            .T
            Indexing by machine
            .W
            Automatic indexing.
            .K
            indexing, automation
            .I 7
            .W
            A document without a title.
            """;

    private static final String QUERIES = """
            .I 1
            .W
            How are small libraries catalogued?
            .I 2
            .T
            Machine indexing
            .A
            Jones, K.
            .W
            Automatic indexing of documents.
            .B
            (J. Doc., 1970)
            .I 3
            .W
            A query nobody judged.
            """;

    private static final String JUDGMENTS = """
            1\t10\t0\t0.000000
            1\t7\t0\t0.000000

            2 3 1
            2 3 1
            9 3 1
            2 99 1
            """;

    private static Path write(Path dir, String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    private static Path collection(Path root, String documents, String queries, String judgments) throws IOException {
        Path dir = Files.createDirectories(root.resolve("tiny"));
        write(dir, "TINY.ALL", documents);
        write(dir, "TINY.QRY", queries);
        write(dir, "TINY.REL", judgments);
        return dir;
    }

    @Test
    void readsKeptFieldsAcrossLinesAndSkipsTheOthers(@TempDir Path root) throws Exception {
        // CRLF line ends, as in the published files.
        Path dir = collection(root, DOCUMENTS.replace("\n", "\r\n"), QUERIES, JUDGMENTS);
        TestCollection c = TestCollection.read(dir);

        assertThat(c.name()).isEqualTo("tiny");
        // Ids as written, not positions; .A, .X and .K dropped; a line starting ".5" is text, not a marker.
        assertThat(c.documents()).containsExactly(
                new Document("10", "Cataloguing rules\nfor small libraries",
                        "Rules for cataloguing.\n.5 percent of the text starts with a dot."),
                new Document("3", "Indexing by machine", "Automatic indexing."),
                new Document("7", "", "A document without a title."));
        assertThat(c.queries()).containsExactly(
                new Query("1", "How are small libraries catalogued?"),
                new Query("2", "Machine indexing\n\nAutomatic indexing of documents."),
                new Query("3", "A query nobody judged."));
    }

    @Test
    void judgmentsAreBinaryAndUnknownIdsAreCountedNotKept(@TempDir Path root) throws Exception {
        TestCollection c = TestCollection.read(collection(root, DOCUMENTS, QUERIES, JUDGMENTS));

        // The repeated "2 3 1" is one pair; "9 3 1" names no query and "2 99 1" no document.
        assertThat(c.relevant()).containsOnlyKeys("1", "2");
        assertThat(c.relevant().get("1")).containsExactly("10", "7");
        assertThat(c.relevant().get("2")).containsExactly("3");
        assertThat(c.unknownJudgments()).isEqualTo(2);
        assertThat(c.judgedQueries()).extracting(Query::id).containsExactly("1", "2");
    }

    @Test
    void aMalformedIdLineIsReportedWithFileAndLine(@TempDir Path root) throws Exception {
        Path dir = collection(root, DOCUMENTS.replace(".I 3", ".I"), QUERIES, JUDGMENTS);
        assertThatThrownBy(() -> TestCollection.read(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("TINY.ALL:13:").hasMessageContaining("expected '.I id'");

        Path twoIds = collection(root, DOCUMENTS, QUERIES.replace(".I 2", ".I 2 b"), JUDGMENTS);
        assertThatThrownBy(() -> TestCollection.read(twoIds)).isInstanceOf(IOException.class)
                .hasMessageContaining("TINY.QRY:4:").hasMessageContaining("'.I 2 b'");
    }

    @Test
    void aRepeatedIdIsAnError(@TempDir Path root) throws Exception {
        Path dir = collection(root, DOCUMENTS.replace(".I 7", ".I 10"), QUERIES, JUDGMENTS);
        assertThatThrownBy(() -> TestCollection.read(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("TINY.ALL:20: duplicate id 10 (first at line 1)");
    }

    @Test
    void textOutsideAFieldIsAnError(@TempDir Path root) throws Exception {
        Path beforeFirstRecord = collection(root, "stray\n" + DOCUMENTS, QUERIES, JUDGMENTS);
        assertThatThrownBy(() -> TestCollection.read(beforeFirstRecord)).isInstanceOf(IOException.class)
                .hasMessageContaining("TINY.ALL:1: text outside a field; expected '.I id', found 'stray'");

        Path beforeFirstField = collection(root, DOCUMENTS, QUERIES.replace(".I 3\n", ".I 3\nstray\n"), JUDGMENTS);
        assertThatThrownBy(() -> TestCollection.read(beforeFirstField)).isInstanceOf(IOException.class)
                .hasMessageContaining("TINY.QRY:14: text outside a field");
    }

    @Test
    void aJudgmentNeedsAQueryAndADocument(@TempDir Path root) throws Exception {
        Path dir = collection(root, DOCUMENTS, QUERIES, JUDGMENTS + "4\n");
        assertThatThrownBy(() -> TestCollection.read(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("TINY.REL:8: expected 'query-id document-id [more columns]', found '4'");
    }

    @Test
    void theDirectoryMustHoldOneFileOfEachKind(@TempDir Path root) throws Exception {
        Path dir = collection(root, DOCUMENTS, QUERIES, JUDGMENTS);
        Files.delete(dir.resolve("TINY.REL"));
        assertThatThrownBy(() -> TestCollection.read(dir)).isInstanceOf(IOException.class)
                .hasMessageEndingWith("tiny: expected one *.REL file, found none");

        write(dir, "TINY.REL", JUDGMENTS);
        write(dir, "other.all", DOCUMENTS);
        assertThatThrownBy(() -> TestCollection.read(dir)).isInstanceOf(IOException.class)
                .hasMessageEndingWith("tiny: expected one *.ALL file, found [TINY.ALL, other.all]");
    }

    private static Path shared(String relative) {
        Optional<Path> dir = SharedData.resolve(relative);
        if (dir.isEmpty()) {
            System.out.println("skipped: ../shared/data/" + relative + " not found");
        }
        Assumptions.assumeTrue(dir.isPresent(), "../shared/data/" + relative + " not found");
        return dir.get();
    }

    /**
     * The counts of shared/data/README.md, plus what it leaves out, as read from the files: every ADI and
     * MED query is judged, and the judgment files list 3,114 (CISI), 696 (MED) and 170 (ADI) distinct pairs,
     * none of them naming an unknown query or document.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "ir/cisi, 1460, 112, 76, 3114",
            "ir/med,  1033,  30, 30,  696",
            "ir/adi,    82,  35, 35,  170",
    })
    void theSharedCollectionsHaveTheirDocumentedCounts(String relative, int documents, int queries, int judged,
            int judgments) throws Exception {
        TestCollection c = TestCollection.read(shared(relative));
        int pairs = c.relevant().values().stream().mapToInt(Set::size).sum();
        System.out.printf("%s: %d documents, %d queries, %d judged, %d judgments, %d unknown%n", c.name(),
                c.documents().size(), c.queries().size(), c.judgedQueries().size(), pairs, c.unknownJudgments());

        assertThat(c.documents()).hasSize(documents);
        assertThat(c.queries()).hasSize(queries);
        assertThat(c.judgedQueries()).hasSize(judged);
        assertThat(c.relevant()).hasSize(judged);
        assertThat(pairs).isEqualTo(judgments);
        assertThat(c.unknownJudgments()).isZero();
        assertThat(c.documents()).allSatisfy(d -> assertThat(d.text()).isNotBlank());
        assertThat(c.queries()).allSatisfy(q -> assertThat(q.text()).isNotBlank());
    }

    @Test
    void sharedCollectionDetails() throws Exception {
        // MED documents have no titles; the text keeps its lines, trailing padding stripped.
        TestCollection med = TestCollection.read(shared("ir/med"));
        assertThat(med.documents()).allSatisfy(d -> assertThat(d.title()).isEmpty());
        assertThat(med.documents().getFirst().text()).startsWith(
                "correlation between maternal and fetal plasma levels of glucose and free\nfatty acids .\n");

        // CISI queries 58 on are papers: title and abstract joined, authors (.A) and source (.B) dropped.
        TestCollection cisi = TestCollection.read(shared("ir/cisi"));
        Query q58 = cisi.queries().get(57);
        assertThat(q58.id()).isEqualTo("58");
        assertThat(q58.text()).startsWith("Directions in Library Networking\n\nBibliographic control before")
                .doesNotContain("Avram").doesNotContain("JASIS");
        assertThat(cisi.relevant().get("1")).hasSize(46).startsWith("28", "35", "38");

        // ADI document 67 gives its title twice (.T, .A, .T): both are kept, one after the other.
        TestCollection adi = TestCollection.read(shared("ir/adi"));
        Document d67 = adi.documents().get(66);
        assertThat(d67.id()).isEqualTo("67");
        assertThat(d67.title()).isEqualTo("a national plan for science abstracting and indexing services .\n"
                + " a national plan for science abstracting and indexing services .");
    }
}
