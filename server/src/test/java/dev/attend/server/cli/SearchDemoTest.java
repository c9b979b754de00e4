package dev.attend.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.gpu.SharedData;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SearchDemoTest {

    @Test
    void withoutTheSharedDataTheDemoSearchesItsBuiltInDocumentsInEveryMode() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        SearchDemo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), Optional.empty());
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertThat(out).contains("built-in documents", "LexSemBridge modulation fitted", "How should a library catalogue its books?");
        for (String mode : new String[] {"bm25", "dense", "lexsem", "rrf", "linear", "rrf-lexsem", "linear-lexsem"}) {
            assertThat(out).containsPattern("\\n    " + mode + " *\\n");
        }
        // the cataloguing document answers the cataloguing question in BM25's top 3
        assertThat(out.substring(out.indexOf("    bm25 "), out.indexOf("    dense "))).contains("Cataloguing rules");
    }

    @Test
    void searchEvalMeasuresEveryModeOnAdi(@TempDir Path dir) {
        Optional<Path> adi = SharedData.resolve("ir/adi");
        if (adi.isEmpty()) {
            System.out.println("skipped: ../shared/data/ir/adi not found");
        }
        Assumptions.assumeTrue(adi.isPresent(), "../shared/data/ir/adi not found");
        StringWriter out = new StringWriter();
        var cli = AttendCli.newCommandLine();
        cli.setOut(new PrintWriter(out));
        int rc = cli.execute("search", "eval", "--collection", adi.get().toString(), "--index-dir", dir.resolve("adi").toString(), "--epochs",
                "1", "--json", dir.resolve("adi.json").toString());
        assertThat(rc).isZero();
        assertThat(out.toString()).contains("adi: 82 documents", "queries          linear-lexsem", "part-of-passage");
        assertThat(dir.resolve("adi.json")).exists();
    }

    @Test
    void searchEvalSaysInOneLineWhatIsWrongWithACollection(@TempDir Path dir) throws Exception {
        // The BEIR sample of the search module's tests reads, but is too small to train on.
        Path beir = Path.of("..", "search", "src", "test", "resources", "collections", "beir-sample");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cli = AttendCli.newCommandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int rc = cli.execute("search", "eval", "--collection", beir.toString(), "--index-dir", dir.resolve("idx").toString());
        assertThat(rc).isEqualTo(AttendCli.EXIT_CONFIG_ERROR);
        assertThat(out.toString()).contains("beir-sample (beir layout): 5 documents, 3 queries, 2 judged (2 judgments of unknown");
        assertThat(err.toString().strip()).isEqualTo("attend: search eval: beir-sample holds 5 documents; the evaluation trains the "
                + "modulation on queries generated from 80% of them and needs at least 10");

        Files.writeString(dir.resolve("notes.txt"), "not a collection");
        StringWriter err2 = new StringWriter();
        cli.setErr(new PrintWriter(err2));
        assertThat(cli.execute("search", "eval", "--collection", dir.toString())).isEqualTo(AttendCli.EXIT_CONFIG_ERROR);
        assertThat(err2.toString()).startsWith("attend: search eval: ").contains("not a collection layout this reads").doesNotContain("\tat ");
        StringWriter err3 = new StringWriter();
        cli.setErr(new PrintWriter(err3));
        assertThat(cli.execute("search", "eval", "--collection", beir.toString(), "--format", "msmarco")).isEqualTo(AttendCli.EXIT_CONFIG_ERROR);
        assertThat(err3.toString()).contains("unknown collection format 'msmarco'");
    }
}
