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

/**
 * Three instances of {@code attend serve} as processes of their own sharing KV sessions through a Kafka topic: every
 * session served through any of them, and after the one holding the most is killed with SIGKILL its sessions served by
 * the others with every acknowledged token, none twice, and the answers of a copy that applied exactly those writes.
 */
class KvClusterBenchTest {

    @Test
    void threeInstanceProcessesServeEverySessionAndLoseNoAcknowledgedTokenToKillNine(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("kv-cluster.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream(); // in the failure's message: CI shows that, not the test's stderr
        int rc = new KvClusterBench(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).execute(new String[] {"--instances", "3",
                "--sessions", "12", "--tokens", "64", "--head-dim", "16", "--clients", "3", "--phase-seconds", "2", "--warmup-seconds", "1", "--kill", "1",
                "--heap", "512m", "--json", json.toString()});
        System.err.print(err.toString(StandardCharsets.UTF_8));
        assertThat(rc).as(out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8)).isZero();
        JsonNode report = new ObjectMapper().readTree(json.toFile());
        assertThat(report.path("verified").asBoolean()).isTrue();
        assertThat(report.path("heads_with_other_lengths").asLong()).isZero();
        assertThat(report.path("answers_different").asLong()).isZero();
        assertThat(report.path("answers_compared").asLong()).isEqualTo(12 * 2 * 4);
        JsonNode phases = report.path("phases");
        assertThat(phases).hasSize(4);
        for (int i = 0; i < 3; i++) {
            assertThat(phases.get(i).path("instances").asInt()).isEqualTo(i + 1);
            assertThat(phases.get(i).path("layer_steps").asLong()).isPositive();
        }
        JsonNode killed = phases.get(3);
        assertThat(killed.path("instances").asInt()).isEqualTo(2);
        assertThat(killed.path("sessions_moved").asInt()).as("the killed instance held sessions").isPositive();
        assertThat(killed.path("failover_seconds").asDouble()).isPositive();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("2 (kill)", "verified: true");
    }

    @Test
    void theSessionsADeploymentHoldsGrowWithItsInstances(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("kv-capacity.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = new KvClusterBench(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)).execute(new String[] {"--instances", "2",
                "--tokens", "256", "--head-dim", "16", "--capacity-bytes", "1048576", "--heap", "512m", "--json", json.toString()});
        System.err.print(err.toString(StandardCharsets.UTF_8));
        assertThat(rc).as(out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8)).isZero();
        JsonNode phases = new ObjectMapper().readTree(json.toFile()).path("phases");
        assertThat(phases).hasSize(2);
        int one = phases.get(0).path("sessions_held").asInt();
        int two = phases.get(1).path("sessions_held").asInt();
        assertThat(one).as("sessions one instance of 1 MiB holds").isPositive();
        assertThat(two).as("sessions two such instances hold").isGreaterThan(one * 3 / 2);
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("sessions held");
    }
}
