package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.server.recsys.RecsysRoutes;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Recommendation over HTTP against a real server: events in, scores, recommendations and explanations out; bad input. */
class RecsysRoutesTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("RecsysRoutesTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    static Path dir;

    static Scorer scorer;
    static RecsysRoutes recsys;
    static AttendServer server;
    static SequenceModel model;
    static ItemCatalog catalog;

    @BeforeAll
    static void start() throws Exception {
        scorer = Scorers.create("simd");
        SplittableRandom rnd = new SplittableRandom(SEED + 8);
        List<BehaviorEvent> training = new ArrayList<>();
        for (int u = 0; u < 20; u++) {
            for (int j = 0; j < 30; j++) {
                long item = 500 + rnd.nextInt(100);
                training.add(new BehaviorEvent(u, item, item % 5, "pv", 1000 + j));
            }
        }
        catalog = UserSequences.of(training).catalog();
        model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 4, 8, 3, new int[] {8}), catalog.items(), catalog.categories(), 2);
        ModelFiles.save(model, catalog, dir.resolve("model.bin"));
        recsys = new RecsysRoutes(dir.resolve("recsys"), scorer, dir.resolve("model.bin"), true);
        server = AttendServer.builder().routes(recsys).build()
                .start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
    }

    @AfterAll
    static void stop() throws Exception {
        server.stop();
        recsys.close();
        scorer.close();
    }

    private static HttpResponse<String> post(String path, Object body) {
        return TestHttp.postJson(server, path, body);
    }

    private static Map<String, Object> event(long user, long item, long time) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("user", user);
        e.put("item", item);
        e.put("category", item % 5);
        e.put("time", time);
        return e;
    }

    @Test
    void eventsBecomeTheHistoryThatScoresRecommendationsAndExplanationsRead() {
        List<Map<String, Object>> events = new ArrayList<>();
        for (int j = 0; j < 12; j++) {
            events.add(event(77, 500 + j * 7, 5000 + j));
        }
        HttpResponse<String> r = post("/v1/recsys/events", Map.of("events", events));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(TestHttp.json(r).get("added").asInt()).isEqualTo(12);
        // the same batch again: duplicates, nothing added
        assertThat(TestHttp.json(post("/v1/recsys/events", Map.of("events", events))).get("added").asInt()).isZero();

        JsonNode user = TestHttp.json(TestHttp.get(server, "/v1/recsys/users/77?limit=5"));
        assertThat(user.get("length").asInt()).isEqualTo(12);
        assertThat(user.get("behaviors")).hasSize(5);
        assertThat(user.get("behaviors").get(4).get("item").asLong()).isEqualTo(500 + 11 * 7);

        // scores are the model's probabilities after the stored history
        int[] hi = new int[12];
        int[] hc = new int[12];
        for (int j = 0; j < 12; j++) {
            hi[j] = catalog.itemIndex(500 + j * 7);
            hc[j] = catalog.categoryIndex((500 + j * 7) % 5);
        }
        JsonNode scores = TestHttp.json(post("/v1/recsys/score", Map.of("user", 77, "items", List.of(510, 520, 123456))));
        assertThat(scores.get("historyLength").asInt()).isEqualTo(12);
        int t = catalog.itemIndex(510);
        assertThat(scores.get("scores").get(0).get("probability").asDouble())
                .isCloseTo(model.probability(hi, hc, 0, 12, t, catalog.categoryOf(t)), within(1e-5));
        assertThat(scores.get("scores").get(2).get("known").asBoolean()).isFalse();

        JsonNode rec = TestHttp.json(post("/v1/recsys/recommend", Map.of("user", 77, "n", 5)));
        assertThat(rec.get("items")).hasSize(5);
        for (JsonNode item : rec.get("items")) {
            assertThat((item.get("item").asLong() - 500) % 7 == 0 && item.get("item").asLong() <= 577).as("a seen item").isFalse();
        }

        JsonNode why = TestHttp.json(post("/v1/recsys/explain", Map.of("user", 77, "item", 514)));
        assertThat(why.get("behaviors")).hasSize(3);
        double sum = 0;
        for (JsonNode b : why.get("behaviors")) {
            sum += b.get("weight").asDouble();
            assertThat(b.get("item").asLong()).isEqualTo(500 + 7L * b.get("position").asInt());
        }
        assertThat(sum).isCloseTo(1.0, within(1e-5));

        JsonNode m = TestHttp.json(TestHttp.get(server, "/v1/recsys/model"));
        assertThat(m.get("kind").asText()).isEqualTo("DARE");
        assertThat(m.get("items").asInt()).isEqualTo(catalog.items());

        // a user never seen: cold start, popular items
        assertThat(TestHttp.json(post("/v1/recsys/recommend", Map.of("user", 999_999))).get("items")).hasSize(10);
    }

    @Test
    void badInputIsA400AndStoresNothing() {
        long before = recsys.store().events();
        Map<String, Object> bad = event(88, 501, -3);
        HttpResponse<String> r = post("/v1/recsys/events", Map.of("events", List.of(event(88, 500, 10), bad)));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("time");
        Map<String, Object> noItem = event(88, 500, 10);
        noItem.remove("item");
        assertThat(post("/v1/recsys/events", Map.of("events", List.of(noItem))).body()).contains("events[0].item");
        assertThat(TestHttp.post(server, "/v1/recsys/events", BodyPublishers.ofString("{\"events\": [{\"user\": \"x\"}]}")).statusCode())
                .isEqualTo(400);
        assertThat(TestHttp.post(server, "/v1/recsys/events", BodyPublishers.ofString("{not json")).statusCode()).isEqualTo(400);
        assertThat(recsys.store().events()).isEqualTo(before);

        assertThat(post("/v1/recsys/score", Map.of("items", List.of(1))).body()).contains("'user' is required");
        assertThat(post("/v1/recsys/score", Map.of("user", 1, "items", List.of(1, 2), "categories", List.of(1))).statusCode()).isEqualTo(400);
        assertThat(post("/v1/recsys/score", Map.of("user", 1, "items", new long[10_001])).statusCode()).isEqualTo(400);
        assertThat(post("/v1/recsys/recommend", Map.of("user", 1, "n", 0)).statusCode()).isEqualTo(400);
        assertThat(post("/v1/recsys/recommend", Map.of("user", 1, "n", -4)).statusCode()).isEqualTo(400);
        assertThat(post("/v1/recsys/explain", Map.of("user", 1)).body()).contains("'item' is required");
        assertThat(TestHttp.get(server, "/v1/recsys/users/abc").statusCode()).isEqualTo(400);
        assertThat(TestHttp.get(server, "/v1/recsys/users/1?limit=-1").statusCode()).isEqualTo(400);
    }

    @Test
    void withoutAModelEventsAreStoredAndScoringIsA409AndTheStoreSurvivesARestart(@TempDir Path other) throws Exception {
        try (RecsysRoutes noModel = new RecsysRoutes(other, scorer, other.resolve("missing.bin"), false)) {
            AttendServer s = AttendServer.builder().routes(noModel).build()
                    .start(ServerConfig.defaults().withPort(0).withDataDir(other.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
            try {
                HttpResponse<String> r = TestHttp.post(s, "/v1/recsys/events",
                        BodyPublishers.ofString(Json.MAPPER.writeValueAsString(Map.of("events", List.of(event(5, 500, 1), event(5, 501, 2))))));
                assertThat(r.statusCode()).isEqualTo(200);
                HttpResponse<String> score = TestHttp.post(s, "/v1/recsys/score", BodyPublishers.ofString("{\"user\": 5, \"items\": [500]}"));
                assertThat(score.statusCode()).isEqualTo(409);
                assertThat(TestHttp.json(score).get("error").get("code").asText()).isEqualTo("no_model");
            } finally {
                s.stop();
            }
        }
        try (RecsysRoutes again = new RecsysRoutes(other, scorer, other.resolve("missing.bin"), false)) {
            assertThat(again.store().get(5).items()).containsExactly(500, 501);
        }
        Assertions.assertThatThrownBy(() -> new RecsysRoutes(other, scorer, other.resolve("missing.bin"), true))
                .hasMessageContaining("no recommendation model");
    }

    @Test
    void onlyTheConfiguredBehavioursAreAccepted(@TempDir Path other) throws Exception {
        try (RecsysRoutes routes = new RecsysRoutes(other, scorer, other.resolve("missing.bin"), false).withBehaviors(Set.of("pv", "buy"))) {
            AttendServer s = AttendServer.builder().routes(routes).build()
                    .start(ServerConfig.defaults().withPort(0).withDataDir(other.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
            try {
                Map<String, Object> like = new java.util.LinkedHashMap<>(event(6, 600, 2));
                like.put("action", "like");
                HttpResponse<String> refused = TestHttp.post(s, "/v1/recsys/events",
                        BodyPublishers.ofString(Json.MAPPER.writeValueAsString(Map.of("events", List.of(event(6, 599, 1), like)))));
                assertThat(refused.statusCode()).isEqualTo(400);
                assertThat(refused.body()).contains("events[1]: action 'like' is not one of [buy, pv]", "events[1].action");
                assertThat(routes.store().get(6).length()).isZero(); // the whole batch refused
                HttpResponse<String> ok = TestHttp.post(s, "/v1/recsys/events",
                        BodyPublishers.ofString(Json.MAPPER.writeValueAsString(Map.of("events", List.of(event(6, 599, 1))))));
                assertThat(ok.statusCode()).isEqualTo(200);
            } finally {
                s.stop();
            }
        }
    }
}
