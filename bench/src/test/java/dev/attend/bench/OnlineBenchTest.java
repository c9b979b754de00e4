package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnlineBenchTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("OnlineBenchTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    /** A Taobao-format file: users acting mostly within a favourite category, items arriving over time. */
    static Path behaviours(Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        List<String> lines = new ArrayList<>();
        for (int u = 1; u <= 60; u++) {
            int favourite = rnd.nextInt(8);
            for (int t = 0; t < 40; t++) {
                int category = rnd.nextDouble() < 0.8 ? favourite : rnd.nextInt(8);
                lines.add(u + "," + (1 + category * 40 + rnd.nextInt(10 + t)) + "," + (100 + category) + ",pv," + (1_500_000_000L + 60L * t + u));
            }
        }
        return Files.write(dir.resolve("UserBehavior.csv"), lines);
    }

    @Test
    void streamsTheEventsAfterTheWarmupAndComparesOnlineWithFrozenPerWindow(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("online.json");
        Path png = dir.resolve("online.png");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = OnlineBench.run(new String[] {"--data", behaviours(dir).toString(), "--format", "taobao", "--epochs", "1", "--window", "300",
                "--json", json.toString(), "--plot", png.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("online_auc", "frozen_auc", "mean window AUC");
        JsonNode report = new ObjectMapper().readTree(json.toFile());
        assertThat(report.path("streamed_events").asInt()).isEqualTo(2400 - 720);
        JsonNode windows = report.path("windows");
        assertThat(windows).hasSize(6);
        for (JsonNode w : windows) {
            assertThat(w.path("online_auc").asDouble()).isBetween(0.0, 1.0);
            assertThat(w.path("frozen_auc").asDouble()).isBetween(0.0, 1.0);
        }
        assertThat(report.path("summary").path("steps").asLong()).isEqualTo(2400 - 720);
        assertThat(Files.size(png)).isPositive();
        assertThat(OnlineBench.run(new String[] {"--data", "x", "--format", "csv"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()))).isEqualTo(2);
    }
}
