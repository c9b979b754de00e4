package dev.attend.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class AttendCliTest {

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    @Test
    void unknownCommandIsAUsageErrorWithExitCode2() {
        int exit = run(AttendCli.newCommandLine(), "frobnicate");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("Unmatched argument", "frobnicate", "Usage: attend");
    }

    @Test
    void noSubcommandIsAUsageErrorWithExitCode2() {
        int exit = run(AttendCli.newCommandLine());

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required subcommand", "serve");
    }

    @Test
    void lmEvalRefusesAnOutputItCannotWriteBeforeItLoadsAnything() {
        Path missing = dir.resolve("no-such-folder");
        for (String option : new String[] {"--json", "--plot"}) {
            err.getBuffer().setLength(0);
            // The model directory does not exist either: the output is refused first, before the evaluation would start.
            int exit = run(AttendCli.newCommandLine(), "lm", "eval", "--model", dir.resolve("no-model").toString(), option,
                    missing.resolve("out").toString());
            assertThat(exit).isEqualTo(2);
            assertThat(err.toString()).contains(option + ": cannot write", "does not exist");
        }
    }

    @Test
    void versionAndHelpWork() {
        assertThat(run(AttendCli.newCommandLine(), "--version")).isZero();
        assertThat(out.toString()).startsWith("attend ").doesNotContain("${");

        assertThat(run(AttendCli.newCommandLine(), "serve", "--help")).isZero();
        assertThat(out.toString()).contains("--port", "--host", "--data-dir", "--config");
    }

    @Test
    void aMissingDataFileIsOneLineAndExit1() {
        int exit = run(AttendCli.newCommandLine(), "recsys", "train", "--data", dir.resolve("no-such.csv").toString(), "--format", "movielens");
        assertThat(exit).isEqualTo(1);
        assertThat(err.toString().strip()).startsWith("attend: ").contains("no-such.csv").doesNotContain("\tat ").doesNotContain("Exception");
        assertThat(err.toString().strip().lines()).hasSize(1);
    }

    @Test
    void aShellCompletionScriptIsGenerated() {
        assertThat(run(AttendCli.newCommandLine(), "completion")).isZero();
        // a bash function that completes the subcommands and their options
        assertThat(out.toString()).contains("complete -F", "serve", "search", "--kafka-bootstrap", "--collection");
    }

    @Test
    void serveListensPrintsItsUrlAndStopsOnSignal() throws Exception {
        // File says port 1 and a 100-byte limit, env says port 2, the flag says 0: flag wins the port,
        // and the file's limit still applies because nothing overrides it.
        Path file = Files.writeString(dir.resolve("attend.properties"), "attend.port=1\nattend.max-body-bytes=100\n");
        TestStopSignal signal = new TestStopSignal();
        CommandLine cli = AttendCli.newCommandLine(factory(Map.of("ATTEND_PORT", "2"), signal));

        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> run(cli,
                "serve", "--config", file.toString(), "--port", "0", "--data-dir", dir.resolve("data").toString()));
        assertThat(signal.serving.await(10, TimeUnit.SECONDS)).as("serving; stderr: %s", err).isTrue();

        Matcher url = Pattern.compile("Attend listening on (http://127\\.0\\.0\\.1:\\d+)").matcher(out.toString());
        assertThat(url.find()).as(out.toString()).isTrue();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> health = client.send(
                HttpRequest.newBuilder(URI.create(url.group(1) + "/health")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> tooBig = client.send(
                HttpRequest.newBuilder(URI.create(url.group(1) + "/health")).timeout(Duration.ofSeconds(10))
                        .POST(HttpRequest.BodyPublishers.ofString("x".repeat(200))).build(),
                HttpResponse.BodyHandlers.ofString());

        signal.stopRequested.countDown();

        assertThat(exit.get(10, TimeUnit.SECONDS)).isZero();
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(tooBig.statusCode()).isEqualTo(413);
        assertThat(dir.resolve("data")).isDirectory();
    }

    @Test
    void badConfigurationExitsWith1AndAMessageButNoStackTrace() {
        CommandLine cli = AttendCli.newCommandLine(factory(Map.of("ATTEND_PORT", "http"), new TestStopSignal()));

        int exit = run(cli, "serve", "--data-dir", dir.resolve("data").toString());

        assertThat(exit).isEqualTo(1);
        assertThat(err.toString())
                .contains("attend.port", "ATTEND_PORT", "\"http\"")
                .doesNotContain("Exception", "\tat ");
    }

    @Test
    void anUnreachableKafkaIsOneLineWithinSeconds() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort(); // nothing listens there once closed
        }
        CommandLine cli = AttendCli.newCommandLine(factory(Map.of(), new TestStopSignal()));
        long t0 = System.nanoTime();
        int exit = CompletableFuture.supplyAsync(() -> run(cli, "serve", "--port", "0", "--kafka-bootstrap", "127.0.0.1:" + port,
                "--data-dir", dir.resolve("data").toString())).get(120, TimeUnit.SECONDS);
        System.out.printf("unreachable Kafka reported after %.1f s%n", (System.nanoTime() - t0) / 1e9);
        assertThat(exit).isEqualTo(1);
        String lastLine = err.toString().strip().lines().reduce((a, b) -> b).orElse("");
        assertThat(lastLine).startsWith("attend: Kafka at 127.0.0.1:" + port + " did not answer within 10 s")
                .contains("attend.kafka-bootstrap", "--kafka-bootstrap", "ATTEND_KAFKA_BOOTSTRAP");
        assertThat(err.toString()).doesNotContain("\tat ");
    }

    @Test
    void kafkaClientSettingsOfTheConfigFileReachTheClients() throws Exception {
        // A plaintext broker asked for TLS: the handshake fails, which only happens if the setting reached the client.
        try (dev.attend.broker.EmbeddedKafkaBroker broker = dev.attend.broker.EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            Path file = Files.writeString(dir.resolve("tls.properties"), "attend.kafka-bootstrap=" + broker.bootstrapServers()
                    + "\nattend.kafka.security.protocol=SSL\n");
            CommandLine cli = AttendCli.newCommandLine(factory(Map.of(), new TestStopSignal()));
            int exit = CompletableFuture.supplyAsync(() -> run(cli, "serve", "--port", "0", "--config", file.toString(),
                    "--data-dir", dir.resolve("data").toString())).get(120, TimeUnit.SECONDS);
            assertThat(exit).isEqualTo(1);
            assertThat(err.toString()).contains("attend: Kafka at " + broker.bootstrapServers() + " did not answer within 10 s");
        }
    }

    @Test
    void anEmptyOrBlankFirstLineTokenFileIsRefused() throws Exception {
        // Issue 20 item 2: an empty --auth-token-file, or one whose first line is blank, started the server unprotected.
        for (String content : new String[] {"", "\n", "   \nsecret-token-of-enough-length\n"}) {
            Path tokenFile = dir.resolve("token");
            Files.writeString(tokenFile, content);
            err.getBuffer().setLength(0);
            CommandLine cli = AttendCli.newCommandLine(factory(Map.of(), new TestStopSignal()));
            int exit = run(cli, "serve", "--port", "0", "--kafka-bootstrap", "none", "--data-dir", dir.resolve("data").toString(),
                    "--auth-token-file", tokenFile.toString());
            assertThat(exit).as("token file %s", content.replace("\n", "\\n")).isEqualTo(1);
            assertThat(err.toString()).contains("auth token file", "first line").doesNotContain("\tat ");
        }
    }

    private int run(CommandLine cli, String... args) {
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    private static CommandLine.IFactory factory(Map<String, String> env, StopSignal signal) {
        return new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> type) throws Exception {
                if (type == ServeCommand.class) {
                    return type.cast(new ServeCommand(env, signal));
                }
                return CommandLine.defaultFactory().create(type);
            }
        };
    }

    /** Stands in for SIGTERM: the test decides when the server should stop. */
    static final class TestStopSignal implements StopSignal {
        final CountDownLatch serving = new CountDownLatch(1);
        final CountDownLatch stopRequested = new CountDownLatch(1);
        private volatile Runnable stopAction = () -> { };

        @Override
        public void onStop(Runnable action) {
            this.stopAction = action;
        }

        @Override
        public void await() throws InterruptedException {
            serving.countDown();
            stopRequested.await();
            stopAction.run();
        }
    }
}
