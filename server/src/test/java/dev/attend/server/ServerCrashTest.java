package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.server.cli.AttendCli;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code attend serve} as its own process, on embedded defaults (Kafka broker in the process), killed with SIGKILL
 * while clients append KV tokens and post behaviour events, then started again on the same data directory: every
 * write it acknowledged is there, and nothing appears twice (a write in flight at the kill may or may not be).
 */
class ServerCrashTest {

    @TempDir
    Path dir;

    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @Test
    void acknowledgedKvAppendsAndEventsSurviveAKill9() throws Exception {
        int port = freePort();
        String base = "http://127.0.0.1:" + port;
        Process server = start(port, "first");
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger ackedTokens = new AtomicInteger();
        AtomicInteger sentTokens = new AtomicInteger();
        int users = 5;
        AtomicLong[] ackedEvents = new AtomicLong[users];
        AtomicLong[] sentEvents = new AtomicLong[users];
        for (int u = 0; u < users; u++) {
            ackedEvents[u] = new AtomicLong();
            sentEvents[u] = new AtomicLong();
        }
        try {
            assertThat(post(base, "/v1/kv/sessions", "{\"id\":\"crash\",\"layers\":1,\"kvHeads\":1,\"headDim\":8}").statusCode()).isEqualTo(201);
            Thread kv = new Thread(() -> {
                for (int p = 0; running.get(); p++) {
                    sentTokens.set(p + 1);
                    String body = "{\"layer\":0,\"kvHead\":0,\"position\":" + p + ",\"key\":" + vector(p) + ",\"value\":" + vector(-p) + "}";
                    try {
                        if (post(base, "/v1/kv/sessions/crash/append", body).statusCode() != 200) {
                            return;
                        }
                        ackedTokens.set(p + 1);
                    } catch (IOException | InterruptedException e) {
                        return; // the kill
                    }
                }
            }, "kv-client");
            Thread events = new Thread(() -> {
                for (int batch = 0; running.get(); batch++) {
                    StringBuilder b = new StringBuilder("{\"events\":[");
                    int[] perUser = new int[users];
                    for (int i = 0; i < 50; i++) {
                        int user = (batch + i) % users;
                        long time = batch * 50L + i; // every event new
                        b.append(i == 0 ? "" : ",").append("{\"user\":").append(user).append(",\"item\":").append(1 + time % 997)
                                .append(",\"category\":").append(time % 13).append(",\"time\":").append(time).append('}');
                        perUser[user]++;
                    }
                    for (int u = 0; u < users; u++) {
                        sentEvents[u].addAndGet(perUser[u]);
                    }
                    try {
                        if (post(base, "/v1/recsys/events", b.append("]}").toString()).statusCode() != 200) {
                            return;
                        }
                        for (int u = 0; u < users; u++) {
                            ackedEvents[u].addAndGet(perUser[u]);
                        }
                    } catch (IOException | InterruptedException e) {
                        return;
                    }
                }
            }, "event-client");
            kv.start();
            events.start();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while ((ackedTokens.get() < 200 || ackedEvents[0].get() < 200) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            server.destroyForcibly().waitFor(); // SIGKILL, in the middle of both streams of writes
            running.set(false);
            kv.join();
            events.join();
        } finally {
            server.destroyForcibly();
        }
        assertThat(ackedTokens.get()).as("KV appends acknowledged before the kill").isGreaterThanOrEqualTo(200);

        Process again = start(port, "second");
        try {
            JsonNode session = json(get(base, "/v1/kv/sessions/crash"));
            int tokens = session.toString().contains("\"tokens\"") ? tokensOf(session) : -1;
            System.out.printf("KV: %d appends acknowledged, %d sent, %d held after the restart%n", ackedTokens.get(), sentTokens.get(), tokens);
            assertThat(tokens).as("the session's tokens after the restart: %s", session).isBetween(ackedTokens.get(), sentTokens.get());
            for (int u = 0; u < users; u++) {
                long want = ackedEvents[u].get();
                long length = 0;
                long until = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                while (System.nanoTime() < until) {
                    HttpResponse<String> r = get(base, "/v1/recsys/users/" + u + "?limit=1");
                    if (r.statusCode() == 200) {
                        length = json(r).get("length").asLong();
                        if (length >= want) {
                            break;
                        }
                    }
                    Thread.sleep(100);
                }
                System.out.printf("events of user %d: %d acknowledged, %d sent, %d held after the restart%n", u, want, sentEvents[u].get(), length);
                assertThat(length).as("user %d's behaviours: acknowledged %d, sent %d", u, want, sentEvents[u].get())
                        .isBetween(want, sentEvents[u].get());
            }
            // and the restarted server keeps taking writes where the session left off
            assertThat(post(base, "/v1/kv/sessions/crash/append", "{\"layer\":0,\"kvHead\":0,\"position\":" + tokens + ",\"key\":"
                    + vector(1) + ",\"value\":" + vector(2) + "}").statusCode()).isEqualTo(200);
        } finally {
            again.destroy();
            again.waitFor();
        }
    }

    private static int tokensOf(JsonNode session) {
        // the session's length: the largest "tokens" count among its heads
        List<Integer> found = new ArrayList<>();
        session.findValues("tokens").forEach(n -> found.add(n.asInt()));
        return found.stream().mapToInt(Integer::intValue).max().orElse(-1);
    }

    private static String vector(int seed) {
        StringBuilder b = new StringBuilder("[");
        for (int c = 0; c < 8; c++) {
            b.append(c == 0 ? "" : ",").append((seed * 31 + c * 7) % 17 / 17.0);
        }
        return b.append(']').toString();
    }

    private Process start(int port, String name) throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>(List.of(javaBin.toString()));
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-modules") || arg.startsWith("--enable-native-access") || arg.startsWith("--sun-misc")) {
                command.add(arg);
            }
        }
        // the engine's own log at info (the tests' logging config says warn): a failed restart shows where recovery stood
        command.add("-Dorg.slf4j.simpleLogger.log.dev.attend=info");
        // and the broker's transaction coordinator: how it completed the transactions the kill left open
        command.add("-Dorg.slf4j.simpleLogger.log.kafka.coordinator.transaction=info");
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), AttendCli.class.getName(), "serve", "--port",
                Integer.toString(port), "--data-dir", dir.resolve("data").toString()));
        Path log = dir.resolve("server-" + name + ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("attend serve exited with " + p.exitValue() + ":\n" + condensed(log));
            }
            try {
                if (get("http://127.0.0.1:" + port, "/health").statusCode() == 200) {
                    return p;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        p.destroyForcibly();
        throw new AssertionError("attend serve did not answer within 300 s:\n" + condensed(log));
    }

    /**
     * The server's log for a failure message, its last lines first: CI shows only the start of a long message, and
     * a server that stopped says why at the end of its log. Stack frames are dropped (their exception lines stay)
     * and runs of one repeated line are counted (a client retrying a connection writes the same warning thousands
     * of times).
     */
    private static String condensed(Path log) throws IOException {
        List<String> lines = new ArrayList<>();
        String previous = null;
        int repeats = 0;
        for (String line : Files.readAllLines(log)) {
            if (line.startsWith("\tat ") || line.matches("\\t\\.\\.\\. \\d+ more")) {
                continue;
            }
            if (line.equals(previous)) {
                repeats++;
                continue;
            }
            if (repeats > 0) {
                lines.add("  (the line above " + repeats + " more times)");
            }
            lines.add(line);
            previous = line;
            repeats = 0;
        }
        if (repeats > 0) {
            lines.add("  (the line above " + repeats + " more times)");
        }
        int tail = Math.min(lines.size(), 40);
        StringBuilder out = new StringBuilder("the last " + tail + " of " + lines.size() + " lines (" + log + "):\n");
        lines.subList(lines.size() - tail, lines.size()).forEach(l -> out.append(l).append('\n'));
        if (tail < lines.size()) {
            out.append("the first lines:\n");
            lines.subList(0, Math.min(20, lines.size() - tail)).forEach(l -> out.append(l).append('\n'));
        }
        return out.toString();
    }

    private HttpResponse<String> post(String base, String path, String json) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String base, String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> r) throws IOException {
        return Json.MAPPER.readTree(r.body());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
