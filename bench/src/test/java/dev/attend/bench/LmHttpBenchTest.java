package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.SharedData;
import dev.attend.retrieval.KvDurability;
import dev.attend.server.AttendServer;
import dev.attend.server.ServerConfig;
import dev.attend.server.kv.KvSessionRoutes;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LmHttpBenchTest {

    @Test
    void decodesThroughBothSidesAndReportsCallsAndBytes(@TempDir Path dir) throws Exception {
        assertThat(LmHttpBench.run(new String[] {"--decode", "5"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()))).isEqualTo(2);
        assumeTrue(SharedData.resolve("models/bytelm-gqa").isPresent(), "no shared model");
        Path json = dir.resolve("lm-http.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Scorer scorer = Scorers.create("simd");
             KvSessionRoutes kv = new KvSessionRoutes(dir.resolve("kv"), scorer, Duration.ZERO, KvDurability.PROCESS)) {
            AttendServer server = AttendServer.builder().routes(kv).build()
                    .start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
            try {
                int rc = LmHttpBench.run(new String[] {"--over-http", server.url(), "--prefill", "600", "--decode", "24", "--policy", "full",
                        "--json", json.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
                assertThat(rc).isZero();
            } finally {
                server.stop();
            }
        }
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("in process", "over HTTP", "per byte (p50)");
        JsonNode r = new ObjectMapper().readTree(json.toFile());
        assertThat(r.path("in_process").path("call_ms_p50").asDouble()).isPositive();
        assertThat(r.path("over_http").path("call_ms_p50").asDouble()).isPositive();
        assertThat(r.path("over_http").path("byte_ms_p50").asDouble()).isGreaterThanOrEqualTo(r.path("over_http").path("call_ms_p50").asDouble());
        assertThat(r.path("byte_ratio_p50").asDouble()).isPositive();
    }
}
