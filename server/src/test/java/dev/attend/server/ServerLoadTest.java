package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.gpu.SimdScorer;
import dev.attend.retrieval.KvDurability;
import dev.attend.server.kv.KvSessionRoutes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded load on loopback at twice the server's concurrency limit: closed-loop clients call KV attend (real
 * scoring work) for a few seconds. Backpressure means every answer is a 200 or a 429 (never a 5xx, a reset or a
 * timeout), the server keeps answering health checks, and it serves normally afterwards. The latencies and counts
 * are printed (a report, not an assertion: timings depend on the machine).
 */
class ServerLoadTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("ServerLoadTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    private static final int LIMIT = 4;
    private static final int DIM = 32;

    @TempDir
    Path dir;

    @Test
    void twiceTheConcurrencyLimitGets200sAnd429sOnly() throws Exception {
        try (SimdScorer scorer = new SimdScorer(1);
             KvSessionRoutes kv = new KvSessionRoutes(dir.resolve("kv"), scorer, Duration.ZERO, KvDurability.FSYNC)) {
            AttendServer server = AttendServer.builder().routes(kv).build()
                    .start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")).withMaxConcurrentRequests(LIMIT));
            try {
                SplittableRandom rnd = new SplittableRandom(SEED + 5);
                int tokens = 4096;
                assertThat(TestHttp.post(server, "/v1/kv/sessions", HttpRequest.BodyPublishers.ofString(
                        "{\"id\":\"load\",\"layers\":1,\"kvHeads\":1,\"headDim\":" + DIM + ",\"topK\":64,\"windowTokens\":64}")).statusCode())
                        .isEqualTo(201);
                String prefill = "{\"layer\":0,\"kvHead\":0,\"from\":0,\"keys\":" + matrix(rnd, tokens) + ",\"values\":" + matrix(rnd, tokens)
                        + ",\"queries\":" + matrix(rnd, 256) + "}";
                assertThat(TestHttp.post(server, "/v1/kv/sessions/load/prefill", HttpRequest.BodyPublishers.ofString(prefill)).statusCode())
                        .isEqualTo(200);

                int clients = 2 * LIMIT;
                long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                List<Long> okNanos = Collections.synchronizedList(new ArrayList<>());
                ConcurrentHashMap<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
                List<Thread> threads = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    SplittableRandom mine = rnd.split();
                    Thread t = new Thread(() -> {
                        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                        while (System.nanoTime() < end) {
                            String body = "{\"layer\":0,\"queries\":[{\"queryHead\":0,\"query\":" + vector(mine) + "}]}";
                            long t0 = System.nanoTime();
                            String outcome;
                            try {
                                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/kv/sessions/load/attend"))
                                        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
                                outcome = Integer.toString(r.statusCode());
                                if (r.statusCode() == 200) {
                                    okNanos.add(System.nanoTime() - t0);
                                } else if (r.statusCode() == 429) {
                                    Thread.onSpinWait(); // a real client would wait Retry-After; here the pressure stays on
                                }
                            } catch (Exception e) {
                                outcome = e.getClass().getSimpleName();
                            }
                            outcomes.computeIfAbsent(outcome, k -> new AtomicLong()).incrementAndGet();
                        }
                    });
                    threads.add(t);
                    t.start();
                }
                int healthy = 0;
                while (System.nanoTime() < end) {
                    healthy += TestHttp.get(server, "/health").statusCode() == 200 ? 1 : 0;
                    Thread.sleep(250);
                }
                for (Thread t : threads) {
                    t.join();
                }
                long[] sorted = okNanos.stream().mapToLong(Long::longValue).sorted().toArray();
                System.out.printf(Locale.ROOT, "load: %d clients against a limit of %d for 5 s: outcomes %s; 200s p50 %.1f ms, p99 %.1f ms; "
                                + "health answered %d times%n", clients, LIMIT, outcomes, sorted.length == 0 ? Double.NaN : sorted[sorted.length / 2] / 1e6,
                        sorted.length == 0 ? Double.NaN : sorted[(int) Math.ceil(0.99 * sorted.length) - 1] / 1e6, healthy);
                assertThat(outcomes.keySet()).as("only successes and backpressure").isSubsetOf("200", "429");
                assertThat(outcomes.get("200").get()).isPositive();
                assertThat(healthy).isPositive();
                assertThat(TestHttp.post(server, "/v1/kv/sessions/load/attend", HttpRequest.BodyPublishers.ofString(
                        "{\"layer\":0,\"queries\":[{\"queryHead\":0,\"query\":" + vector(rnd) + "}]}")).statusCode()).isEqualTo(200);
            } finally {
                server.stop();
            }
        }
    }

    private static String vector(SplittableRandom rnd) {
        StringBuilder b = new StringBuilder("[");
        for (int c = 0; c < DIM; c++) {
            b.append(c == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.4f", rnd.nextGaussian()));
        }
        return b.append(']').toString();
    }

    private static String matrix(SplittableRandom rnd, int rows) {
        StringBuilder b = new StringBuilder("[");
        for (int r = 0; r < rows; r++) {
            b.append(r == 0 ? "" : ",").append(vector(rnd));
        }
        return b.append(']').toString();
    }
}
