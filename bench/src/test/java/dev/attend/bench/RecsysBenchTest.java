package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecsysBenchTest {

    @Test
    void comparesTheModelsOnAPlantedSetWithSearchRecall(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("recsys.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = RecsysBench.run(new String[] {"--planted", "600", "--seeds", "1", "--epochs", "1", "--dim", "16", "--attention-dim", "8",
                "--threads", "2", "--json", json.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("DARE", "TWIN", "DIN", "popularity", "search recall");
        JsonNode rows = new ObjectMapper().readTree(json.toFile()).path("rows");
        assertThat(rows).hasSize(4);
        for (JsonNode r : rows) {
            assertThat(r.path("auc_mean").asDouble()).isBetween(0.0, 1.0);
            if (!r.path("model").asText().equals("popularity")) {
                assertThat(r.path("search_recall").asDouble()).isBetween(0.0, 1.0);
                assertThat(r.path("train_samples_per_s").asDouble()).isPositive();
            }
        }
        assertThat(RecsysBench.run(new String[] {"--seeds", "2"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()))).isEqualTo(2);
    }
}
