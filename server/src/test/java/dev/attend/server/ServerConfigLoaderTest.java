package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.retrieval.KvDurability;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerConfigLoaderTest {

    @TempDir
    Path dir;

    @Test
    void noSourcesGiveTheDefaults() {
        ServerConfig config = ServerConfigLoader.load(null, Map.of(), Map.of());

        assertThat(config).isEqualTo(ServerConfig.defaults());
        assertThat(config.host()).isEqualTo("127.0.0.1");
        assertThat(config.port()).isEqualTo(8080);
        assertThat(config.dataDir()).isEqualTo(Path.of("data"));
        assertThat(config.maxBodyBytes()).isEqualTo(8L * 1024 * 1024);
    }

    @Test
    void fileThenEnvironmentThenFlagsEachWin() throws IOException {
        Path file = properties("""
                attend.host=10.0.0.1
                attend.port=7001
                attend.data-dir=/from/file
                attend.max-body-bytes=1000
                attend.shutdown-timeout-ms=1500
                """);
        Map<String, String> env = Map.of(
                "ATTEND_PORT", "7002",
                "ATTEND_DATA_DIR", "/from/env",
                "ATTEND_MAX_BODY_BYTES", "2000");
        Map<ConfigKey, String> flags = Map.of(ConfigKey.DATA_DIR, "/from/flag");

        ServerConfig config = ServerConfigLoader.load(file, env, flags);

        assertThat(config.host()).isEqualTo("10.0.0.1");              // file only
        assertThat(config.shutdownTimeout()).isEqualTo(Duration.ofMillis(1500));
        assertThat(config.port()).isEqualTo(7002);                     // env beats file
        assertThat(config.maxBodyBytes()).isEqualTo(2000);
        assertThat(config.dataDir()).isEqualTo(Path.of("/from/flag")); // flag beats env and file
    }

    @Test
    void kafkaClientSettingsComeFromTheFileAndStayOutOfPrint() throws IOException {
        Path file = properties("""
                attend.kafka-bootstrap=kafka-1.example.com:9093
                attend.kafka.security.protocol=SASL_SSL
                attend.kafka.sasl.mechanism=PLAIN
                attend.kafka.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="secret-pw";
                """);
        ServerConfig config = ServerConfigLoader.load(file, Map.of(), Map.of());
        assertThat(config.kafkaClient()).containsOnlyKeys("security.protocol", "sasl.mechanism", "sasl.jaas.config")
                .containsEntry("security.protocol", "SASL_SSL");
        assertThat(config.toString()).contains("sasl.jaas.config").doesNotContain("secret-pw");

        // what Attend's guarantees rest on is refused, naming the key
        Path owned = properties("attend.kafka-bootstrap=k:9092\nattend.kafka.producer.acks=1\n");
        assertThatThrownBy(() -> ServerConfigLoader.load(owned, Map.of(), Map.of())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("producer.acks").hasMessageContaining("Attend's own");
        // client settings without a cluster to use them on
        Path embedded = properties("attend.kafka.security.protocol=SSL\n");
        assertThatThrownBy(() -> ServerConfigLoader.load(embedded, Map.of(), Map.of())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("they are for a cluster");
    }

    @Test
    void aKafkaDeploymentNamesItsTopicsIdAndAdvertisedAddress() throws IOException {
        assertThat(ServerConfigLoader.load(null, Map.of(), Map.of()).kafka()).isEqualTo(KafkaDeployment.defaults());
        Path file = properties("""
                attend.kafka-events-topic=shop-a.events
                attend.kafka-partitions=12
                attend.kafka-replication-factor=3
                attend.kafka-application-id=shop-a
                """);
        ServerConfig config = ServerConfigLoader.load(file, Map.of("ATTEND_ADVERTISED_ADDRESS", "attend-1.internal:8080"), Map.of());
        assertThat(config.kafka()).isEqualTo(new KafkaDeployment("shop-a.events", 12, (short) 3, "shop-a", "attend-1.internal:8080", null, 0, KafkaDeployment.DEFAULT_KV_MEMBER_TIMEOUT_MS, null, true));
        assertThat(config.kafka().deadLetterTopic()).isEqualTo("shop-a.events.dlq");
        ServerConfig shared = ServerConfigLoader.load(file, Map.of("ATTEND_KAFKA_KV_TOPIC", "shop-a.kv", "ATTEND_KAFKA_KV_STANDBYS", "1"), Map.of());
        assertThat(shared.kafka().kvStandbys()).isEqualTo(1);
        ServerConfig tuned = ServerConfigLoader.load(file, Map.of("ATTEND_KAFKA_KV_MEMBER_TIMEOUT_MS", "6000", "ATTEND_KAFKA_KV_INSTANCE_ID", "attend-1"),
                Map.of());
        assertThat(tuned.kafka().kvMemberTimeoutMs()).isEqualTo(6000);
        assertThat(tuned.kafka().kvInstanceId()).isEqualTo("attend-1");
        assertThat(ServerConfigLoader.load(file, Map.of("ATTEND_KAFKA_KV_SNAPSHOTS", "false"), Map.of()).kafka().kvSnapshots()).isFalse();
        assertThat(shared.kafka().kvTopic()).isEqualTo("shop-a.kv");
        assertThat(shared.kafka().kvGroup()).isEqualTo("shop-a.kv");

        for (String bad : new String[] {"attend.kafka-events-topic=../etc", "attend.kafka-application-id=a b",
                "attend.advertised-address=no-port", "attend.advertised-address=host:70000", "attend.kafka-partitions=0",
                "attend.kafka-kv-topic=a/b", "attend.kafka-kv-topic=attend.events", "attend.kafka-kv-standbys=2",
                "attend.kafka-kv-member-timeout-ms=1000", "attend.kafka-kv-instance-id=a:b", "attend.kafka-kv-snapshots=yes"}) {
            Path f = properties(bad + "\n");
            assertThatThrownBy(() -> ServerConfigLoader.load(f, Map.of(), Map.of())).as(bad).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("config file");
        }
    }

    @Test
    void behavioursAreACommaSeparatedSet() throws IOException {
        assertThat(ServerConfigLoader.load(null, Map.of(), Map.of()).behaviors()).isEmpty(); // any
        assertThat(ServerConfigLoader.load(properties("attend.behaviors=pv, buy ,cart\n"), Map.of(), Map.of()).behaviors())
                .containsExactly("buy", "cart", "pv");
        Path bad = properties("attend.behaviors=pv,,buy\n");
        assertThatThrownBy(() -> ServerConfigLoader.load(bad, Map.of(), Map.of())).isInstanceOf(ConfigException.class)
                .hasMessageContaining("attend.behaviors").hasMessageContaining("separated by commas");
    }

    @Test
    void configFileCanBeNamedByTheEnvironment() throws IOException {
        Path file = properties("attend.port=7100\n");

        ServerConfig config = ServerConfigLoader.load(null, Map.of("ATTEND_CONFIG", file.toString()), Map.of());

        assertThat(config.port()).isEqualTo(7100);
    }

    @Test
    void aBlankTokenIsRefusedNotTakenAsNoAuthentication() throws IOException {
        // Issue 20 item 2: a token of only spaces started the server without authentication and without a word.
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of("ATTEND_AUTH_TOKEN", "   "), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("attend.auth-token").hasMessageContaining("empty");
        Path file = dir.resolve("attend.properties");
        Files.writeString(file, "attend.auth-token=\t \n");
        assertThatThrownBy(() -> ServerConfigLoader.load(file, Map.of(), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("config file");
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of(), Map.of(ConfigKey.AUTH_TOKEN, " ")))
                .isInstanceOf(ConfigException.class);
    }

    @Test
    void originsAndBodyReadTimeoutAreParsed() {
        ServerConfig c = ServerConfigLoader.load(null, Map.of("ATTEND_ALLOWED_ORIGINS", "https://App.example.com, http://localhost:3000",
                "ATTEND_BODY_READ_TIMEOUT_MS", "2500"), Map.of());
        assertThat(c.allowedOrigins()).containsExactly("https://app.example.com", "http://localhost:3000");
        assertThat(c.bodyReadTimeout()).isEqualTo(Duration.ofMillis(2500));
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of("ATTEND_ALLOWED_ORIGINS", "*"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("attend.allowed-origins");
    }

    @Test
    void blankValuesCountAsUnset() {
        ServerConfig config = ServerConfigLoader.load(null, Map.of("ATTEND_PORT", "  "), Map.of());

        assertThat(config.port()).isEqualTo(8080);
    }

    @Test
    void flagRescuesABadEnvironmentValue() {
        ServerConfig config = ServerConfigLoader.load(null, Map.of("ATTEND_PORT", "nope"),
                Map.of(ConfigKey.PORT, "9000"));

        assertThat(config.port()).isEqualTo(9000);
    }

    @Test
    void nonNumericPortNamesKeyAndEnvironmentVariable() {
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of("ATTEND_PORT", "eighty"), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("attend.port")
                .hasMessageContaining("environment variable ATTEND_PORT")
                .hasMessageContaining("\"eighty\"");
    }

    @Test
    void onlineTrainingShareDefaultsToEveryEventAndRefusesValuesOutsideZeroToOne() {
        assertThat(ServerConfigLoader.load(null, Map.of(), Map.of()).recsysOnlineSteps()).isEqualTo(1.0);
        assertThat(ServerConfigLoader.load(null, Map.of("ATTEND_RECSYS_ONLINE_STEPS", "0.25"), Map.of()).recsysOnlineSteps()).isEqualTo(0.25);
        assertThat(ServerConfigLoader.load(null, Map.of(), Map.of(ConfigKey.RECSYS_ONLINE_STEPS, "0")).recsysOnlineSteps()).isZero();
        for (String bad : new String[] {"1.5", "-0.1", "NaN", "often"}) {
            assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of("ATTEND_RECSYS_ONLINE_STEPS", bad), Map.of()))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("attend.recsys-online-steps").hasMessageContaining("between 0 and 1");
        }
    }

    @Test
    void kvSessionSettingsComeFromTheEnvironmentAndFlags() {
        ServerConfig config = ServerConfigLoader.load(null, Map.of("ATTEND_KV_DURABILITY", "process"),
                Map.of(ConfigKey.KV_SESSION_TTL_S, "60"));
        assertThat(config.kvDurability()).isEqualTo(KvDurability.PROCESS);
        assertThat(config.kvSessionTtl()).isEqualTo(Duration.ofSeconds(60));
        assertThat(ServerConfigLoader.load(null, Map.of(), Map.of()).kvDurability()).isEqualTo(KvDurability.FSYNC);
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of("ATTEND_KV_DURABILITY", "sometimes"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("attend.kv-durability").hasMessageContaining("fsync or process");
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of(), Map.of(ConfigKey.KV_SESSION_TTL_S, "-1")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("attend.kv-session-ttl-s");
    }

    @Test
    void portOutOfRangeNamesTheFlag() {
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of(), Map.of(ConfigKey.PORT, "70000")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("attend.port")
                .hasMessageContaining("command-line flag --port")
                .hasMessageContaining("between 0 and 65535");
    }

    @Test
    void negativeSizeNamesTheFile() throws IOException {
        Path file = properties("attend.max-body-bytes=-5\n");

        assertThatThrownBy(() -> ServerConfigLoader.load(file, Map.of(), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("attend.max-body-bytes")
                .hasMessageContaining("config file " + file)
                .hasMessageContaining("positive");
    }

    @Test
    void negativeShutdownTimeoutIsRejected() {
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of("ATTEND_SHUTDOWN_TIMEOUT_MS", "-1"), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("attend.shutdown-timeout-ms")
                .hasMessageContaining("ATTEND_SHUTDOWN_TIMEOUT_MS");
    }

    @Test
    void missingConfigFileIsAClearError() {
        Path missing = dir.resolve("nope.properties");

        assertThatThrownBy(() -> ServerConfigLoader.load(missing, Map.of(), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(missing.toString())
                .hasMessageContaining("does not exist");
    }

    @Test
    void recordRejectsOutOfRangeValuesFromCode() {
        assertThatThrownBy(() -> ServerConfig.defaults().withPort(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ServerConfig.defaults().withMaxBodyBytes(0)).isInstanceOf(IllegalArgumentException.class);
    }

    private Path properties(String content) throws IOException {
        Path file = dir.resolve("attend.properties");
        Files.writeString(file, content);
        return file;
    }
}
