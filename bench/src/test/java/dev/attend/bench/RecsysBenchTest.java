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

    @Test
    void measuresServingLatencyBesideTheHostBaseline(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("serving.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = RecsysBench.run(new String[] {"--serving", "--histories", "300,600", "--attention-dims", "8", "--threads", "1", "--json",
                json.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("baseline 1 threads");
        JsonNode report = new ObjectMapper().readTree(json.toFile());
        JsonNode rows = report.path("rows");
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).path("history").asInt()).isEqualTo(300);
        assertThat(rows.get(1).path("history").asInt()).isEqualTo(600);
        for (JsonNode r : rows) {
            assertThat(r.path("attention_dim").asInt()).isEqualTo(8);
            assertThat(r.path("p99_ms").asDouble()).isGreaterThanOrEqualTo(r.path("p50_ms").asDouble()).isPositive();
        }
        JsonNode baseline = report.path("host_baseline");
        assertThat(baseline.path("p99_ms").asDouble()).isGreaterThanOrEqualTo(baseline.path("p50_ms").asDouble()).isPositive();

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertThat(RecsysBench.run(new String[] {"--serving", "--histories", "1000,0"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8))).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--histories takes integers >= 1");
    }
}
