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

class KvLogBenchTest {

    @Test
    void writesASessionThroughTheJournalBothWaysAndThroughTheTopicAndRebuildsItFromEach(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("kv-log.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = new KvLogBench(new PrintStream(out, true, StandardCharsets.UTF_8), System.err).execute(new String[] {"--layers", "2",
                "--kv-heads", "2", "--head-dim", "8", "--tokens", "100", "--chunk", "30", "--steps", "6", "--json", json.toString()});
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("journal, process", "journal, fsync", "kafka topic", "per-layer append");
        JsonNode report = new ObjectMapper().readTree(json.toFile());
        assertThat(report.path("prefill_bytes").asLong()).isPositive();
        assertThat(report.path("token_pipelined_p50_us").asDouble()).isPositive();
        assertThat(report.path("token_sequential_p50_us").asDouble()).isPositive();
        JsonNode rows = report.path("rows");
        assertThat(rows).hasSize(3);
        for (JsonNode r : rows) {
            assertThat(r.path("append_p50_us").asDouble()).isPositive();
            assertThat(r.path("append_p99_us").asDouble()).isGreaterThanOrEqualTo(r.path("append_p50_us").asDouble());
            assertThat(r.path("rebuild_seconds").asDouble()).isPositive();
        }
        int bad = new KvLogBench(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)).execute(new String[] {"--steps", "0"});
        assertThat(bad).isEqualTo(2);
    }
}
