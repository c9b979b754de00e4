package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.gpu.OpenClScorer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bench scorer --build} on a tiny shape: both backends timed, their answers compared, a JSON report. */
class BuildTopKBenchTest {

    @Test
    void tinyBuildRunComparesBackends(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("build.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = ScorerBench.run(new String[] {"--build", "--queries", "300", "--per-call", "200", "--heads", "2",
                "--n", "4000", "--d", "32", "--k", "20", "--reps", "1", "--json", json.toString()},
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("build shape", "simd");
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("bench").asText()).isEqualTo("scorer-build");
        JsonNode rows = root.path("rows");
        boolean opencl = OpenClScorer.available();
        assertThat(rows.size()).isEqualTo(opencl ? 2 : 1);
        for (JsonNode row : rows) {
            assertThat(row.path("ms_per_head").asDouble()).isPositive();
            assertThat(row.path("gflops").asDouble()).isPositive();
            // Float sums in another order may swap a near-tie at the k-th place, nothing more.
            assertThat(row.path("recall_vs_simd").asDouble()).isGreaterThan(0.99);
        }
        if (opencl) {
            JsonNode cl = rows.get(1);
            assertThat(cl.path("backend").asText()).isEqualTo("opencl");
            assertThat(cl.path("device").asText()).startsWith("opencl");
            assertThat(cl.path("device_resident_MB").asDouble()).isPositive();
            assertThat(cl.path("ms_per_head_at_once").asDouble()).isPositive();
        }
    }
}
