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

class AttentionHttpBenchTest {

    @Test
    void servesASmallHeadOverHttpAndReportsLatencyAndError(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("http.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = AttentionHttpBench.run(new String[] {"--synthetic", "6000", "--train", "600", "--steps", "30", "--warmup", "5",
                "--chunk", "1000", "--budget", "0.1,0.3", "--check-every", "3", "--scorer", "simd", "--json", json.toString()},
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("client round trip", "server (Server-Timing)");
        JsonNode r = new ObjectMapper().readTree(json.toFile());
        assertThat(r.path("prefill_tokens").asInt()).isEqualTo(6000 - 2 * 35);
        assertThat(r.path("runs")).hasSize(2);
        JsonNode wide = r.path("runs").get(1);
        assertThat(wide.path("server_us").path("p50").asLong()).isPositive()
                .isLessThanOrEqualTo(wide.path("round_trip_us").path("p50").asLong());
        assertThat(wide.path("relative_error_checked_steps").asInt()).isEqualTo(10);
        // A large budget over a small head: close to full attention.
        assertThat(wide.path("relative_error_median").asDouble()).isBetween(0.0, 0.5);
        assertThat(wide.path("scanned_fraction").asDouble()).isGreaterThan(r.path("runs").get(0).path("scanned_fraction").asDouble());
        assertThat(AttentionHttpBench.run(new String[] {"--steps", "0"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()))).isEqualTo(2);
    }
}
