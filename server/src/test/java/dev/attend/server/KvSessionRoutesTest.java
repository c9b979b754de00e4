package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.server.kv.KvSessionRoutes;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Retrieval attention over HTTP against a real server: the session's life, exactness, and bad input. */
class KvSessionRoutesTest {

    @TempDir
    static Path dataDir;

    static Scorer scorer;
    static KvSessionRoutes kv;
    static AttendServer server;

    @BeforeAll
    static void start() throws Exception {
        scorer = Scorers.create("simd");
        kv = new KvSessionRoutes(dataDir.resolve("kv"), scorer);
        ServerMetrics metrics = new ServerMetrics();
        kv.bindMetrics(metrics.registry());
        server = AttendServer.builder().metrics(metrics).routes(kv).build()
                .start(ServerConfig.defaults().withPort(0).withDataDir(dataDir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
    }

    @AfterAll
    static void stop() {
        server.stop();
        kv.close();
        scorer.close();
    }

    private static HttpResponse<String> post(String path, Object body) {
        try {
            return TestHttp.post(server, path, BodyPublishers.ofString(Json.MAPPER.writeValueAsString(body)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new AssertionError(e);
        }
    }

    private static float[][] rows(SplittableRandom rnd, int n, int d) {
        float[][] out = new float[n][d];
        for (float[] r : out) {
            for (int c = 0; c < d; c++) {
                r[c] = (float) rnd.nextGaussian();
            }
        }
        return out;
    }

    @Test
    void prefillAppendAndAttendMatchExactAttention() throws Exception {
        SplittableRandom rnd = new SplittableRandom(5);
        int d = 8;
        HttpResponse<String> created = post("/v1/kv/sessions", Map.of("id", "s1", "layers", 1, "kvHeads", 1, "headDim", d,
                "sinkTokens", 4, "windowTokens", 8, "topK", 1000));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        float[][] keys = rows(rnd, 300, d);
        float[][] values = rows(rnd, 300, d);
        Map<String, Object> prefill = new LinkedHashMap<>();
        prefill.put("layer", 0);
        prefill.put("kvHead", 0);
        prefill.put("from", 0);
        prefill.put("keys", java.util.Arrays.copyOf(keys, 250));
        prefill.put("values", java.util.Arrays.copyOf(values, 250));
        prefill.put("queries", rows(rnd, 100, d));
        assertThat(post("/v1/kv/sessions/s1/prefill", prefill).statusCode()).isEqualTo(200);
        for (int i = 250; i < 300; i++) {
            HttpResponse<String> r = post("/v1/kv/sessions/s1/append", Map.of("layer", 0, "kvHead", 0, "position", i,
                    "key", keys[i], "value", values[i]));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        }
        // The index builds in the background; wait until it is ready and has taken the tokens that left the window.
        long deadline = System.nanoTime() + 30_000_000_000L;
        JsonNode head;
        do {
            head = TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/s1")).path("heads").get(0).path("index");
            Thread.sleep(20);
        } while (!head.path("state").asText().equals("ready") && System.nanoTime() < deadline);
        assertThat(head.path("state").asText()).isEqualTo("ready");
        assertThat(head.path("indexedUpTo").asInt()).isEqualTo(300 - 8);

        float[] q = rows(rnd, 1, d)[0];
        JsonNode result = TestHttp.json(post("/v1/kv/sessions/s1/attend", Map.of("layer", 0, "budget", 100_000,
                "queries", List.of(Map.of("queryHead", 0, "query", q))))).path("results").get(0);
        assertThat(result.path("stats").path("mode").asText()).isEqualTo("index");
        // Exact softmax attention over all 300 keys, computed here.
        double scale = 1 / Math.sqrt(d);
        double[] logits = new double[300];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < 300; i++) {
            double dot = 0;
            for (int c = 0; c < d; c++) {
                dot += q[c] * (double) keys[i][c];
            }
            logits[i] = scale * dot;
            max = Math.max(max, logits[i]);
        }
        double sum = 0;
        double[] o = new double[d];
        for (int i = 0; i < 300; i++) {
            double w = Math.exp(logits[i] - max);
            sum += w;
            for (int c = 0; c < d; c++) {
                o[c] += w * values[i][c];
            }
        }
        for (int c = 0; c < d; c++) {
            assertThat(result.path("output").get(c).asDouble()).isCloseTo(o[c] / sum, org.assertj.core.data.Offset.offset(1e-4));
        }
        assertThat(result.path("logSumExp").asDouble()).isCloseTo(max + Math.log(sum), org.assertj.core.data.Offset.offset(1e-4));
        // The session is on disk: a second server over the same directory serves the same tokens.
        try (KvSessionRoutes again = new KvSessionRoutes(dataDir.resolve("kv"), scorer)) {
            AttendServer second = AttendServer.builder().routes(again).build()
                    .start(ServerConfig.defaults().withPort(0).withDataDir(dataDir.resolve("data2")).withShutdownTimeout(Duration.ofSeconds(2)));
            try {
                JsonNode restored = TestHttp.json(TestHttp.get(second, "/v1/kv/sessions/s1"));
                assertThat(restored.path("heads").get(0).path("index").path("tokens").asInt()).isEqualTo(300);
            } finally {
                second.stop();
            }
        }
        assertThat(TestHttp.send(TestHttp.request(server, "/v1/kv/sessions/s1").DELETE().build()).statusCode()).isEqualTo(204);
        assertThat(TestHttp.get(server, "/v1/kv/sessions/s1").statusCode()).isEqualTo(404);
    }

    private static HttpResponse<String> postBinary(String path, float... values) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * values.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return TestHttp.send(TestHttp.request(server, path).header("Content-Type", "application/octet-stream")
                .POST(BodyPublishers.ofByteArray(b.array())).build());
    }

    @Test
    void binaryBodiesAppendAndAttendLikeJson() {
        assertThat(post("/v1/kv/sessions", Map.of("id", "bin", "layers", 1, "kvHeads", 1, "headDim", 2)).statusCode()).isEqualTo(201);
        assertThat(postBinary("/v1/kv/sessions/bin/append?layer=0&kvHead=0&position=0", 1, 0, 5, 6).statusCode()).isEqualTo(200);
        assertThat(postBinary("/v1/kv/sessions/bin/append?layer=0&kvHead=0&position=1", 0, 1, 7, 8).statusCode()).isEqualTo(200);
        // Wrong length, missing or malformed parameters: 400, nothing stored.
        assertThat(postBinary("/v1/kv/sessions/bin/append?layer=0&kvHead=0&position=2", 1, 2, 3).statusCode()).isEqualTo(400);
        assertThat(postBinary("/v1/kv/sessions/bin/append?layer=0&kvHead=0", 1, 2, 3, 4).statusCode()).isEqualTo(400);
        assertThat(postBinary("/v1/kv/sessions/bin/append?layer=x&kvHead=0&position=2", 1, 2, 3, 4).statusCode()).isEqualTo(400);
        assertThat(postBinary("/v1/kv/sessions/bin/append?layer=0&kvHead=0&position=2", 1, Float.NaN, 3, 4).statusCode()).isEqualTo(400);
        HttpResponse<String> r = postBinary("/v1/kv/sessions/bin/attend?layer=0&queryHead=0", 2, 0);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode result = TestHttp.json(r).path("results").get(0);
        // Two keys, logits 2/sqrt(2) and 0: weights e^sqrt2 / (e^sqrt2 + 1) and the rest.
        double w = Math.exp(Math.sqrt(2)) / (Math.exp(Math.sqrt(2)) + 1);
        assertThat(result.path("output").get(0).asDouble()).isCloseTo(5 * w + 7 * (1 - w), org.assertj.core.data.Offset.offset(1e-5));
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/bin")).path("heads").get(0).path("index").path("tokens").asInt())
                .isEqualTo(2);
        String scrape = TestHttp.get(server, "/metrics").body();
        assertThat(scrape).contains("attend_kv_sessions ", "attend_kv_session_bytes ");
    }

    @Test
    void badInputIsA4xxAndChangesNothing() {
        int d = 4;
        assertThat(post("/v1/kv/sessions", Map.of("id", "s2", "layers", 1, "kvHeads", 1, "headDim", d)).statusCode()).isEqualTo(201);
        assertThat(post("/v1/kv/sessions", Map.of("id", "s2", "layers", 1, "kvHeads", 1, "headDim", d)).statusCode()).isEqualTo(409);
        assertThat(post("/v1/kv/sessions", Map.of("id", "bad id!", "layers", 1, "kvHeads", 1, "headDim", d)).statusCode()).isEqualTo(400);
        assertThat(post("/v1/kv/sessions", Map.of("layers", 1, "kvHeads", 1)).statusCode()).isEqualTo(400);
        float[] ok = {1, 2, 3, 4};
        assertThat(post("/v1/kv/sessions/s2/append", Map.of("layer", 0, "kvHead", 0, "position", 0, "key", ok, "value", ok))
                .statusCode()).isEqualTo(200);
        HttpResponse<String> wrongDim = post("/v1/kv/sessions/s2/append", Map.of("layer", 0, "kvHead", 0, "position", 1,
                "key", new float[] {1, 2}, "value", ok));
        assertThat(wrongDim.statusCode()).isEqualTo(400);
        assertThat(TestHttp.json(wrongDim).path("error").path("message").asText()).contains("dimension 2, expected 4");
        assertThat(post("/v1/kv/sessions/s2/append", Map.of("layer", 0, "kvHead", 0, "position", 5, "key", ok, "value", ok))
                .statusCode()).isEqualTo(400);
        assertThat(post("/v1/kv/sessions/s2/append", Map.of("layer", 3, "kvHead", 0, "position", 1, "key", ok, "value", ok))
                .statusCode()).isEqualTo(400);
        assertThat(post("/v1/kv/sessions/nope/append", Map.of("layer", 0, "kvHead", 0, "position", 1, "key", ok, "value", ok))
                .statusCode()).isEqualTo(404);
        HttpResponse<String> nan = TestHttp.post(server, "/v1/kv/sessions/s2/append",
                BodyPublishers.ofString("{\"layer\":0,\"kvHead\":0,\"position\":1,\"key\":[1,NaN,3,4],\"value\":[1,2,3,4]}"));
        assertThat(nan.statusCode()).isEqualTo(400);
        assertThat(post("/v1/kv/sessions/s2/attend", Map.of("layer", 0, "queries", List.of())).statusCode()).isEqualTo(400);
        assertThat(post("/v1/kv/sessions/s2/attend", Map.of("layer", 0, "queries", List.of(Map.of("queryHead", 0, "query", ok)),
                "budget", 0)).statusCode()).isEqualTo(400);
        JsonNode s = TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/s2"));
        assertThat(s.path("heads").get(0).path("index").path("tokens").asInt()).isEqualTo(1);
        assertThat(post("/v1/kv/sessions/s2/attend", Map.of("layer", 0, "queries", List.of(Map.of("queryHead", 0, "query", ok))))
                .statusCode()).isEqualTo(200);
    }
}
