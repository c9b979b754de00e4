package dev.attend.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.serving.BehaviorSequenceStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code attend recsys train|eval|import} on a small generated Taobao-format file. */
class RecsysCommandTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("RecsysCommandTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cli = AttendCli.newCommandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    /** 60 users with 40 to 80 page views each over 300 items in 12 categories; users prefer a few categories. */
    private Path taobaoFile() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        List<String> lines = new ArrayList<>();
        for (int u = 1; u <= 60; u++) {
            int favourite = rnd.nextInt(12);
            int n = 40 + rnd.nextInt(40);
            for (int j = 0; j < n; j++) {
                int category = rnd.nextInt(3) > 0 ? favourite : rnd.nextInt(12);
                int item = category * 25 + rnd.nextInt(25);
                lines.add(u + "," + item + "," + category + ",pv," + (1_511_000_000 + j * 60));
            }
        }
        lines.add("not,a,valid,row"); // skipped with a reason, not a crash
        Path file = dir.resolve("behaviors.csv");
        Files.write(file, lines);
        return file;
    }

    @Test
    void trainSavesAModelThatEvalReadsAndImportFillsTheStore() throws Exception {
        Path data = taobaoFile();
        Path dataDir = dir.resolve("data");
        int exit = run("recsys", "train", "--data", data.toString(), "--format", "taobao", "--epochs", "1", "--train-targets", "5",
                "--history", "30", "--attention-dim", "8", "--dim", "16", "--data-dir", dataDir.toString(), "--threads", "2");
        assertThat(exit).as(err.toString()).isZero();
        assertThat(err.toString()).contains("skipped");
        assertThat(out.toString()).contains("DARE", "validation", "test", "popularity", "saved");
        Path model = dataDir.resolve("recsys/model.bin");
        ModelFiles.Saved saved = ModelFiles.loadWithCatalog(model);
        assertThat(saved.catalog().items()).isEqualTo(300);
        assertThat(saved.model().config().attentionDim()).isEqualTo(8);

        out.getBuffer().setLength(0);
        assertThat(run("recsys", "eval", "--data", data.toString(), "--format", "taobao", "--train-targets", "5", "--history", "30",
                "--model", model.toString())).as(err.toString()).isZero();
        assertThat(out.toString()).contains("DARE", "test");

        assertThat(run("recsys", "import", "--data", data.toString(), "--format", "taobao", "--data-dir", dataDir.toString()))
                .as(err.toString()).isZero();
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dataDir.resolve("recsys/behaviors"), 100_000, false)) {
            assertThat(store.users()).isEqualTo(60);
        }
    }

    @Test
    void badOptionsAreClearErrors() throws Exception {
        Path data = taobaoFile();
        assertThat(run("recsys", "train", "--data", data.toString(), "--format", "taobao", "--kind", "bert")).isEqualTo(1);
        assertThat(err.toString()).contains("--kind is dare, twin or din");
        assertThat(run("recsys", "train", "--data", data.toString(), "--format", "csv")).isEqualTo(1);
        assertThat(err.toString()).contains("--format is taobao or movielens");
        assertThat(run("recsys", "eval", "--data", data.toString(), "--format", "taobao", "--model", dir.resolve("none.bin").toString()))
                .isEqualTo(1);
        assertThat(err.toString()).contains("no model at");
        assertThat(run("recsys")).isEqualTo(2);
        // a model of another data set with as many items and categories, numbered otherwise, is refused
        Path dataDir = dir.resolve("d");
        assertThat(run("recsys", "train", "--data", data.toString(), "--format", "taobao", "--epochs", "1", "--train-targets", "2",
                "--history", "10", "--dim", "8", "--attention-dim", "4", "--data-dir", dataDir.toString())).as(err.toString()).isZero();
        List<String> reversed = new ArrayList<>(Files.readAllLines(data));
        Collections.reverse(reversed);
        Path other = dir.resolve("reversed.csv");
        Files.write(other, reversed);
        assertThat(run("recsys", "eval", "--data", other.toString(), "--format", "taobao", "--model",
                dataDir.resolve("recsys/model.bin").toString())).isEqualTo(1);
        assertThat(err.toString()).contains("trained on another data set");
    }
}
