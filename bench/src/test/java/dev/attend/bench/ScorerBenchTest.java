package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScorerBenchTest {

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @Test
    void tinyRunWritesJsonAndPng(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("scorer.json");
        Path png = dir.resolve("scorer.png");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = ScorerBench.run(new String[] {"--quick", "--n", "5000", "--d", "32", "--m", "1", "--reps", "1",
                "--backends", "plain,simd-1", "--triad-mib", "16", "--json", json.toString(), "--png", png.toString()},
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);

        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("plain", "simd-1", "triad");

        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("bench").asText()).isEqualTo("scorer");
        assertThat(root.path("machine").path("cores").asInt()).isPositive();
        assertThat(root.path("triad").path("single_thread_GBps").asDouble()).isPositive();
        assertThat(root.path("triad").path("all_threads_GBps").asDouble()).isPositive();
        JsonNode rows = root.path("rows");
        assertThat(rows.isArray()).isTrue();
        assertThat(rows.size()).isEqualTo(2);
        Set<String> backends = new HashSet<>();
        for (JsonNode row : rows) {
            assertThat(row.path("name").asText()).isNotBlank();
            backends.add(row.path("backend").asText());
            assertThat(row.path("n").asInt()).isEqualTo(5000);
            assertThat(row.path("d").asInt()).isEqualTo(32);
            assertThat(row.path("m").asInt()).isEqualTo(1);
            for (String key : List.of("ms_median", "ms_best", "key_GBps", "gflops", "ratio_to_plain", "bandwidth_ratio",
                    "key_store_MB", "heap_used_MB")) {
                assertThat(row.path(key).isNumber()).as(key).isTrue();
                assertThat(row.path(key).asDouble()).as(key).isPositive();
            }
            // Both backends find the same rows (float sums in different orders may swap a near-tie).
            assertThat(row.path("agree_with_plain").asDouble()).isGreaterThan(0.95);
        }
        assertThat(backends).containsExactlyInAnyOrder("plain", "simd-1");

        assertThat(png).exists();
        byte[] bytes = Files.readAllBytes(png);
        assertThat(bytes.length).isGreaterThan(PNG_SIGNATURE.length);
        assertThat(Arrays.copyOf(bytes, PNG_SIGNATURE.length)).isEqualTo(PNG_SIGNATURE);

        // The same chart drawn again from the JSON alone, as for reports measured on the GPU machine.
        Path replot = dir.resolve("replot.png");
        assertThat(PlotCommand.run(new String[] {"--json", json.toString(), "--png", replot.toString()}, System.err)).isZero();
        byte[] again = Files.readAllBytes(replot);
        assertThat(Arrays.copyOf(again, PNG_SIGNATURE.length)).isEqualTo(PNG_SIGNATURE);
    }

    @Test
    void badArgumentsExitWithTwo() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = ScorerBench.run(new String[] {"--backends", "cuda"}, System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(rc).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown backend");
    }
}
