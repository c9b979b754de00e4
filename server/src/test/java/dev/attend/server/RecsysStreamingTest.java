package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.broker.EventStreaming;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.server.recsys.RecsysRoutes;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two server instances streaming events through one Kafka broker: events posted to either reach the users'
 * sequences, and a request for a user reaches the instance that holds the user (forwarded when it arrives at the
 * other one).
 */
class RecsysStreamingTest {

    @TempDir
    Path dir;

    @Test
    void eventsPostedAnywhereAreReadFromTheInstanceThatHoldsTheUser() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka")); Scorer scorer = Scorers.create("simd")) {
            int portA = freePort();
            int portB = freePort();
            RecsysRoutes routesA = instance(broker, scorer, "a", portA);
            RecsysRoutes routesB = instance(broker, scorer, "b", portB);
            ServerMetrics metricsA = new ServerMetrics();
            routesA.bindMetrics(metricsA.registry());
            AttendServer a = AttendServer.builder().routes(routesA).metrics(metricsA).build().start(config(portA, "a"));
            AttendServer b = AttendServer.builder().routes(routesB).build().start(config(portB, "b"));
            try {
                List<Map<String, Object>> events = new ArrayList<>();
                for (int u = 0; u < 20; u++) {
                    for (int j = 0; j < 3; j++) {
                        events.add(event(u, 100 * u + j, 1000 + j));
                    }
                }
                HttpResponse<String> r = post(a, Map.of("events", events.subList(0, 30)));
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                assertThat(TestHttp.json(r).get("accepted").asInt()).isEqualTo(30);
                assertThat(post(b, Map.of("events", events.subList(30, 60))).statusCode()).isEqualTo(200);
                // a bad event: the whole batch refused, nothing sent
                List<Map<String, Object>> bad = new ArrayList<>(List.of(event(1, 999, 5000)));
                bad.add(event(1, 998, -1));
                HttpResponse<String> refused = post(a, Map.of("events", bad));
                assertThat(refused.statusCode()).isEqualTo(400);
                assertThat(refused.body()).contains("events[1]", "time must be >= 0");
                // milliseconds where seconds are meant: refused with the reason, nothing sent
                HttpResponse<String> millis = post(a, Map.of("events", List.of(event(1, 997, 1511544070000L))));
                assertThat(millis.statusCode()).isEqualTo(400);
                assertThat(millis.body()).contains("events[0]", "looks like milliseconds since the epoch");
                // the wire format's older name of the action reads over HTTP too
                HttpResponse<String> aliased = post(b, Map.of("events", List.of(Map.of("user", 20, "item", 2000, "category", 1,
                        "behavior", "cart", "time", 7000))));
                assertThat(aliased.statusCode()).as(aliased.body()).isEqualTo(200);
                assertThat(TestHttp.json(TestHttp.awaitUserLength(a, 20, 1)).get("behaviors").get(0).get("action").asText()).isEqualTo("cart");

                int forwarded = 0;
                for (int u = 0; u < 20; u++) {
                    for (AttendServer s : List.of(a, b)) {
                        HttpResponse<String> user = TestHttp.awaitUserLength(s, u, 3);
                        JsonNode body = TestHttp.json(user);
                        assertThat(body.get("behaviors").get(2).get("item").asLong()).isEqualTo(100L * u + 2);
                        if (user.headers().firstValue("X-Attend-Served-By").isPresent()) {
                            forwarded++;
                        }
                    }
                }
                // each user is held by one of the two: asked of both, it is forwarded exactly once
                assertThat(forwarded).isEqualTo(20);
                String scrape = TestHttp.get(a, "/metrics").body();
                assertThat(scrape).contains("attend_events_stream_running 1.0", "attend_events_dead_lettered_total 0.0",
                        "attend_events_rerouted_total 0.0");
                assertThat(scrape.lines()).anyMatch(l -> l.startsWith("kafka_consumer_fetch_manager_records_lag"));
            } finally {
                a.stop();
                b.stop();
                routesA.close();
                routesB.close();
            }
        }
    }

    /** A request forwarded while its owner restarts waits for it (retrying) instead of failing at once with 502. */
    @Test
    void aForwardedRequestWaitsOutItsOwnersRestart() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka")); Scorer scorer = Scorers.create("simd")) {
            int portA = freePort();
            int portB = freePort();
            RecsysRoutes routesA = instance(broker, scorer, "a", portA);
            RecsysRoutes routesB = instance(broker, scorer, "b", portB);
            AttendServer a = AttendServer.builder().routes(routesA).build().start(config(portA, "a"));
            AttendServer b = AttendServer.builder().routes(routesB).build().start(config(portB, "b"));
            try {
                List<Map<String, Object>> events = new ArrayList<>();
                for (int u = 0; u < 12; u++) {
                    events.add(event(u, 100 + u, 1000));
                }
                assertThat(post(a, Map.of("events", events)).statusCode()).isEqualTo(200);
                long user = -1;
                for (int u = 0; u < 12 && user < 0; u++) { // a user that B holds: asked of A, it is forwarded
                    HttpResponse<String> r = TestHttp.awaitUserLength(a, u, 1);
                    if (r.headers().firstValue("X-Attend-Served-By").isPresent()) {
                        user = u;
                    }
                }
                assertThat(user).as("one of 12 users is held by B").isGreaterThanOrEqualTo(0);
                b.stop(); // B's HTTP side goes away; its share of the users stays assigned to it
                long asked = user;
                CompletableFuture<HttpResponse<String>> answer = CompletableFuture.supplyAsync(() -> TestHttp.get(a, "/v1/recsys/users/" + asked));
                Thread.sleep(1500);
                assertThat(answer).isNotDone(); // waiting, not failed
                b = AttendServer.builder().routes(routesB).build().start(config(portB, "b"));
                HttpResponse<String> r = answer.get(30, TimeUnit.SECONDS);
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                assertThat(r.headers().firstValue("X-Attend-Served-By")).hasValue("127.0.0.1:" + portB);
            } finally {
                a.stop();
                b.stop();
                routesA.close();
                routesB.close();
            }
        }
    }

    @Test
    void theServedModelLearnsFromStreamedEventsAndSnapshotsToItsFile() throws Exception {
        // a model that knows five items; the stream brings new ones
        List<BehaviorEvent> known = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            known.add(new BehaviorEvent(0, i, i % 5, "pv", i));
        }
        UserSequences seed = UserSequences.of(known);
        Path modelFile = dir.resolve("model.bin");
        ModelFiles.save(new SequenceModel(new ModelConfig(
                ModelConfig.Kind.DARE, 8, 16, 10, new int[] {32, 16}), seed.catalog().items(), seed.catalog().categories(),
                1), seed.catalog(), modelFile);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka")); Scorer scorer = Scorers.create("simd")) {
            int port = freePort();
            RecsysRoutes routes = new RecsysRoutes(EventStreaming.start(broker.bootstrapServers(), dir.resolve("a"), new HostInfo("127.0.0.1",
                    port), 1000), scorer, modelFile, true, 1.0, "a");
            AttendServer a = AttendServer.builder().routes(routes).build().start(config(port, "a"));
            List<Map<String, Object>> events = new ArrayList<>();
            for (int u = 0; u < 10; u++) {
                for (int j = 0; j < 4; j++) {
                    events.add(event(u, 100 + 10 * u + j, 1000 + j));
                }
            }
            try {
                assertThat(post(a, Map.of("events", events)).statusCode()).isEqualTo(200);
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                JsonNode online;
                do {
                    online = TestHttp.json(TestHttp.get(a, "/v1/recsys/model")).get("online");
                    Thread.sleep(100);
                } while (online.get("events").asLong() < events.size() && System.nanoTime() < deadline);
                assertThat(online.get("events").asLong()).isEqualTo(events.size());
                assertThat(online.get("steps").asLong()).isEqualTo(events.size());
                assertThat(online.get("running").asBoolean()).isTrue();
                JsonNode model = TestHttp.json(TestHttp.get(a, "/v1/recsys/model"));
                assertThat(model.get("items").asInt()).isEqualTo(5 + events.size());
                // a streamed item is now one the model knows
                HttpResponse<String> scored = TestHttp.post(a, "/v1/recsys/score",
                        BodyPublishers.ofString("{\"user\": 3, \"items\": [131, 999999]}"));
                assertThat(scored.statusCode()).as(scored.body()).isEqualTo(200);
                assertThat(scored.body()).contains("\"known\":true", "\"known\":false");
            } finally {
                a.stop();
                routes.close();
            }
        }
        // closing took a last snapshot into the model file
        assertThat(ModelFiles.loadWithCatalog(modelFile).catalog().items()).isEqualTo(5 + 40);
    }

    @Test
    void aFailedEmbeddedBrokerIsA503AndAProblemInHealthWhileReadsGoOn() throws Exception {
        // issue 20 item 4: a broker whose log directory failed made Kafka halt the whole process
        try (Scorer scorer = Scorers.create("simd")) {
            int port = freePort();
            Path events = dir.resolve("events");
            RecsysRoutes routes = new RecsysRoutes(EventStreaming.start(null, events, new HostInfo("127.0.0.1", port), 1000), scorer,
                    dir.resolve("no-model.bin"), false, 1.0, "a");
            AttendServer a = AttendServer.builder().routes(routes).healthCheck(routes::problems)
                    .component("kafka", routes::kafkaState).component("topology", routes::topologyState).build().start(config(port, "a"));
            try {
                assertThat(post(a, Map.of("events", List.of(event(7, 1, 100)))).statusCode()).isEqualTo(200);
                TestHttp.awaitUserLength(a, 7, 1);
                JsonNode running = TestHttp.json(TestHttp.get(a, "/health"));
                assertThat(running.get("status").asText()).isEqualTo("ok");
                assertThat(running.get("components").get("kafka").get("detail").asText()).matches("embedded broker at [\\w.-]+:\\d+");
                assertThat(running.get("components").get("topology").get("status").asText()).isEqualTo("ok");
                Path log = events.resolve("kafka/log");
                Files.move(log, events.resolve("kafka/log.moved"));
                Files.writeString(log, "not a directory");
                long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                JsonNode health;
                do {
                    Thread.sleep(100);
                    health = TestHttp.json(TestHttp.get(a, "/health"));
                } while ("ok".equals(health.get("status").asText()) && System.nanoTime() < deadline);
                assertThat(health.get("status").asText()).as(health.toString()).isEqualTo("degraded");
                assertThat(health.get("problems").toString()).contains("kafka broker").doesNotContain(dir.toString());
                assertThat(health.get("components").get("kafka").get("status").asText()).isEqualTo("degraded");
                HttpResponse<String> refused = post(a, Map.of("events", List.of(event(7, 2, 200))));
                assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
                assertThat(TestHttp.json(refused).get("error").get("code").asText()).isEqualTo("kafka_unavailable");
                HttpResponse<String> read = TestHttp.get(a, "/v1/recsys/users/7");
                assertThat(read.statusCode()).isEqualTo(200);
                assertThat(TestHttp.json(read).get("length").asInt()).isEqualTo(1);
            } finally {
                a.stop();
                routes.close();
            }
        }
    }

    /** One instance's recommendation routes on the shared broker, its HTTP address 127.0.0.1:port. */
    private RecsysRoutes instance(EmbeddedKafkaBroker broker, Scorer scorer, String name, int port) throws IOException {
        return new RecsysRoutes(EventStreaming.start(broker.bootstrapServers(), dir.resolve(name), new HostInfo("127.0.0.1", port), 1000), scorer,
                dir.resolve("no-model.bin"), false, 1.0, name);
    }

    private ServerConfig config(int port, String name) {
        return ServerConfig.defaults().withPort(port).withDataDir(dir.resolve(name + "-data")).withShutdownTimeout(Duration.ofSeconds(2));
    }

    private static HttpResponse<String> post(AttendServer s, Object body) {
        return TestHttp.postJson(s, "/v1/recsys/events", body);
    }

    private static Map<String, Object> event(long user, long item, long time) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("user", user);
        e.put("item", item);
        e.put("category", item % 5);
        e.put("time", time);
        return e;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
