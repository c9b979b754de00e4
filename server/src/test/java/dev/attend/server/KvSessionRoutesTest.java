package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.retrieval.KvDurability;
import dev.attend.server.kv.KvSessionRoutes;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Retrieval attention over HTTP against a real server: the session's life, exactness, and bad input. */
class KvSessionRoutesTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("KvSessionRoutesTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    static Path dataDir;

    static Scorer scorer;
    static KvSessionRoutes kv;
    static AttendServer server;

    @BeforeAll
    static void start() throws Exception {
        scorer = Scorers.create("simd");
        kv = new KvSessionRoutes(dataDir.resolve("kv"), scorer, Duration.ZERO, KvDurability.FSYNC);
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
        return TestHttp.postJson(server, path, body);
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
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
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
        prefill.put("keys", Arrays.copyOf(keys, 250));
        prefill.put("values", Arrays.copyOf(values, 250));
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
        } while (!(head.path("state").asText().equals("ready") && head.path("indexedUpTo").asInt() == 300 - 8)
                && System.nanoTime() < deadline);
        assertThat(head.path("state").asText()).isEqualTo("ready");
        assertThat(head.path("indexedUpTo").asInt()).isEqualTo(300 - 8); // decoded keys enter the index off the append's path

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
            assertThat(result.path("output").get(c).asDouble()).isCloseTo(o[c] / sum, Offset.offset(1e-4));
        }
        assertThat(result.path("logSumExp").asDouble()).isCloseTo(max + Math.log(sum), Offset.offset(1e-4));
        // The session is on disk: a second server over the same directory serves the same tokens.
        try (KvSessionRoutes again = new KvSessionRoutes(dataDir.resolve("kv"), scorer, Duration.ZERO, KvDurability.FSYNC)) {
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

    /**
     * The sessions are listed; an accuracy check compares answers with full attention, on the queries given or the
     * layer's latest decode queries (none yet is a 400 that says to pass some).
     */
    @Test
    void sessionsAreListedAndAnswersCheckedAgainstFullAttention() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 8);
        int d = 8;
        // top-k above the session's length: with a budget that covers every key, an answer from the index holds them
        // all, and equals full attention whether or not the background index is built yet (before, it is flat)
        assertThat(post("/v1/kv/sessions", Map.of("id", "acc", "layers", 2, "kvHeads", 1, "headDim", d, "sinkTokens", 4,
                "windowTokens", 8, "topK", 512)).statusCode()).isEqualTo(201);
        Map<String, Object> prefill = new LinkedHashMap<>();
        prefill.put("layer", 0);
        prefill.put("kvHead", 0);
        prefill.put("from", 0);
        prefill.put("keys", rows(rnd, 400, d));
        prefill.put("values", rows(rnd, 400, d));
        prefill.put("queries", rows(rnd, 200, d));
        assertThat(post("/v1/kv/sessions/acc/prefill", prefill).statusCode()).isEqualTo(200);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/acc")).path("heads").get(0).path("index").path("state").asText()
                .equals("ready") && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        JsonNode listed = TestHttp.json(TestHttp.get(server, "/v1/kv/sessions"));
        JsonNode mine = null;
        for (JsonNode s : listed.path("sessions")) {
            mine = s.path("id").asText().equals("acc") ? s : mine;
        }
        assertThat(mine).as(listed.toString()).isNotNull();
        assertThat(mine.path("tokens").asInt()).isEqualTo(400);
        assertThat(mine.path("layers").asInt()).isEqualTo(2);

        HttpResponse<String> none = post("/v1/kv/sessions/acc/accuracy", Map.of("layer", 0));
        assertThat(none.statusCode()).isEqualTo(400);
        assertThat(none.body()).contains("pass 'queries'");
        float[][] queries = rows(rnd, 5, d);
        for (float[] q : queries) {
            assertThat(post("/v1/kv/sessions/acc/attend", Map.of("layer", 0, "queries", List.of(Map.of("queryHead", 0, "query", q))))
                    .statusCode()).isEqualTo(200);
        }
        JsonNode recent = TestHttp.json(post("/v1/kv/sessions/acc/accuracy", Map.of("layer", 0)));
        assertThat(recent.path("source").asText()).isEqualTo("recent");
        assertThat(recent.path("results")).hasSize(5);
        for (JsonNode r : recent.path("results")) {
            assertThat(r.path("relativeError").asDouble()).isBetween(0.0, 1.0);
            assertThat(r.path("massKept").asDouble()).isBetween(0.0, 1.0 + 1e-6); // float log-sum-exps
            assertThat(r.path("keyRecall").asDouble()).isBetween(0.0, 1.0);
        }
        assertThat(recent.path("summary").path("queries").asInt()).isEqualTo(5);
        // Every key searched (the budget covers them): the answer is full attention up to rounding.
        JsonNode given = TestHttp.json(post("/v1/kv/sessions/acc/accuracy", Map.of("layer", 0, "budget", 100_000,
                "queries", List.of(Map.of("queryHead", 0, "query", queries[0])))));
        assertThat(given.path("source").asText()).isEqualTo("request");
        assertThat(given.path("results").get(0).path("answer").path("mode").asText()).as(given.toString()).isEqualTo("index");
        assertThat(given.path("summary").path("maxRelativeError").asDouble()).isLessThan(1e-4);
        assertThat(post("/v1/kv/sessions/acc/accuracy", Map.of("layer", 0, "budget", 0)).statusCode()).isEqualTo(400);
        assertThat(post("/v1/kv/sessions/acc/accuracy", Map.of("layer", 7)).statusCode()).isEqualTo(400);
        assertThat(post("/v1/kv/sessions/nope/accuracy", Map.of("layer", 0)).statusCode()).isEqualTo(404);
        assertThat(TestHttp.send(TestHttp.request(server, "/v1/kv/sessions/acc").DELETE().build()).statusCode()).isEqualTo(204);
    }

    private static HttpResponse<String> postBinary(String path, float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
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
        // float16 bodies: half the bytes, the same numbers (1.5 and 2 are exact in float16).
        ByteBuffer half = ByteBuffer.allocate(2 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : new float[] {0, 0, 1.5f, 2}) {
            half.putShort(Float.floatToFloat16(v));
        }
        HttpResponse<String> f16 = TestHttp.send(TestHttp.request(server, "/v1/kv/sessions/bin/append?layer=0&kvHead=0&position=2&dtype=float16")
                .header("Content-Type", "application/octet-stream").POST(BodyPublishers.ofByteArray(half.array())).build());
        assertThat(f16.statusCode()).as(f16.body()).isEqualTo(200);
        assertThat(postBinary("/v1/kv/sessions/bin/append?layer=0&kvHead=0&position=3&dtype=bfloat16", 0, 0, 0, 0).statusCode())
                .isEqualTo(400);
        HttpResponse<String> r = postBinary("/v1/kv/sessions/bin/attend?layer=0&queryHead=0", 2, 0);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode result = TestHttp.json(r).path("results").get(0);
        // Three keys, logits 2/sqrt(2), 0 and 0 (the float16 key is zero): weights e^sqrt2 / (e^sqrt2 + 2) and the rest.
        double e = Math.exp(Math.sqrt(2));
        assertThat(result.path("output").get(0).asDouble()).isCloseTo((5 * e + 7 + 1.5) / (e + 2), Offset.offset(1e-5));
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/bin")).path("heads").get(0).path("index").path("tokens").asInt())
                .isEqualTo(3);
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

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    @Test
    void binaryPrefillThenDecodeStepsAppendAndAttendInOneCall() {
        SplittableRandom rnd = new SplittableRandom(SEED + 11);
        int d = 4;
        assertThat(post("/v1/kv/sessions", Map.of("id", "dec", "layers", 1, "kvHeads", 1, "queryHeadsPerKvHead", 2,
                "headDim", d, "sinkTokens", 2, "windowTokens", 4)).statusCode()).isEqualTo(201);
        float[][] keys = rows(rnd, 40, d);
        float[][] values = rows(rnd, 40, d);
        float[][] queries = rows(rnd, 10, d);
        float[] body = new float[0];
        for (int i = 0; i < 30; i++) {
            body = concat(body, keys[i]);
        }
        for (int i = 0; i < 30; i++) {
            body = concat(body, values[i]);
        }
        for (float[] q : queries) {
            body = concat(body, q);
        }
        HttpResponse<String> prefill = postBinary("/v1/kv/sessions/dec/prefill?layer=0&kvHead=0&from=0&tokens=30&queries=10", body);
        assertThat(prefill.statusCode()).as(prefill.body()).isEqualTo(200);
        assertThat(TestHttp.json(prefill).path("tokens").asInt()).isEqualTo(30);
        // A body one float short is refused whole.
        assertThat(postBinary("/v1/kv/sessions/dec/prefill?layer=0&kvHead=0&from=30&tokens=1&queries=0", 1, 2, 3, 4, 5, 6, 7)
                .statusCode()).isEqualTo(400);

        // Decode: key, value and the queries of both query heads of KV head 0.
        float[] q0 = rows(rnd, 1, d)[0];
        float[] q1 = rows(rnd, 1, d)[0];
        HttpResponse<String> step = postBinary("/v1/kv/sessions/dec/decode?layer=0&kvHead=0&position=30&queryHeads=0,1&budget=1000",
                concat(keys[30], values[30], q0, q1));
        assertThat(step.statusCode()).as(step.body()).isEqualTo(200);
        JsonNode decoded = TestHttp.json(step);
        assertThat(decoded.path("tokens").asInt()).isEqualTo(31);
        assertThat(decoded.path("results")).hasSize(2);
        // The same step as a separate attend gives the same answer.
        JsonNode alone = TestHttp.json(post("/v1/kv/sessions/dec/attend", Map.of("layer", 0, "budget", 1000,
                "queries", List.of(Map.of("queryHead", 1, "query", q1))))).path("results").get(0);
        assertThat(alone.path("logSumExp").asDouble()).isCloseTo(decoded.path("results").get(1).path("logSumExp").asDouble(),
                Offset.offset(1e-6));
        // JSON decode; then a bad query (NaN, or a head of another KV head) is refused before the append.
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("layer", 0);
        json.put("kvHead", 0);
        json.put("position", 31);
        json.put("key", keys[31]);
        json.put("value", values[31]);
        json.put("queries", List.of(Map.of("queryHead", 0, "query", q0)));
        assertThat(post("/v1/kv/sessions/dec/decode", json).statusCode()).isEqualTo(200);
        assertThat(postBinary("/v1/kv/sessions/dec/decode?layer=0&kvHead=0&position=32&queryHeads=0",
                concat(keys[32], values[32], new float[] {1, Float.NaN, 0, 0})).statusCode()).isEqualTo(400);
        assertThat(postBinary("/v1/kv/sessions/dec/decode?layer=0&kvHead=0&position=32&queryHeads=2",
                concat(keys[32], values[32], q0)).statusCode()).isEqualTo(400);
        assertThat(postBinary("/v1/kv/sessions/dec/decode?layer=0&kvHead=0&position=32&queryHeads=0&budget=0",
                concat(keys[32], values[32], q0)).statusCode()).isEqualTo(400);
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/dec")).path("heads").get(0).path("index").path("tokens")
                .asInt()).isEqualTo(32);
        // Append, attend and decode bodies are small: a 2 MiB one is a 413 and changes nothing.
        HttpResponse<String> huge = postBinary("/v1/kv/sessions/dec/append?layer=0&kvHead=0&position=32", new float[1 << 19]);
        assertThat(huge.statusCode()).isEqualTo(413);
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/dec")).path("heads").get(0).path("index").path("tokens")
                .asInt()).isEqualTo(32);
    }

    @Test
    void headPoliciesAreSetAtCreationShownPerHeadAndCountedInMetrics() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 21);
        int d = 8;
        assertThat(post("/v1/kv/sessions", Map.of("id", "pol", "layers", 1, "kvHeads", 2, "headDim", d, "sinkTokens", 2, "windowTokens", 8,
                "topK", 10, "policy", "auto", "headPolicies", Map.of("0/1", "streaming"))).statusCode()).isEqualTo(201);
        for (int head = 0; head < 2; head++) {
            Map<String, Object> prefill = new LinkedHashMap<>();
            prefill.put("layer", 0);
            prefill.put("kvHead", head);
            prefill.put("from", 0);
            prefill.put("keys", rows(rnd, 300, d));
            prefill.put("values", rows(rnd, 300, d));
            prefill.put("queries", rows(rnd, 300, d));
            assertThat(post("/v1/kv/sessions/pol/prefill", prefill).statusCode()).isEqualTo(200);
        }
        JsonNode session = TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/pol"));
        long deadline = System.nanoTime() + 60_000_000_000L; // the policies open on the build thread
        while (session.path("heads").get(0).path("policy").path("policy").isNull()
                || !session.path("heads").get(1).path("index").path("state").asText().equals("ready")) {
            assertThat(System.nanoTime()).as("policies opened").isLessThan(deadline);
            Thread.sleep(50);
            session = TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/pol"));
        }
        assertThat(session.path("policy").asText()).isEqualTo("auto");
        assertThat(session.path("headPolicies").path("0/1").asText()).isEqualTo("streaming");
        JsonNode auto = session.path("heads").get(0).path("policy");
        assertThat(auto.path("configured").asText()).isEqualTo("auto");
        assertThat(auto.path("policy").asText()).isIn("streaming", "retrieval", "retrieval+tail");
        assertThat(auto.path("measured").path("queries").asInt()).isEqualTo(64);
        JsonNode streaming = session.path("heads").get(1).path("policy");
        assertThat(streaming.path("policy").asText()).isEqualTo("streaming");
        assertThat(streaming.path("measured").isNull()).isTrue();
        // the streaming head holds its sinks and window only; the other every token
        assertThat(streaming.path("kvBytes").asLong()).isLessThan(300L * d * 4 * 2 / 4);
        // attending a streaming head works; comparing it with full attention cannot
        Map<String, Object> q = Map.of("queryHead", 1, "query", rows(rnd, 1, d)[0]);
        HttpResponse<String> answer = post("/v1/kv/sessions/pol/attend", Map.of("layer", 0, "queries", List.of(q)));
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(TestHttp.json(answer).path("results").get(0).path("stats").path("mode").asText()).isEqualTo("streaming");
        assertThat(post("/v1/kv/sessions/pol/accuracy", Map.of("layer", 0, "queries", List.of(q))).statusCode()).isEqualTo(409);
        String scrape = TestHttp.get(server, "/metrics").body();
        assertThat(scrape).containsPattern("attend_kv_policy_heads\\{policy=\"streaming\"\\} [1-9]");
        assertThat(scrape).contains("attend_kv_policy_bytes{kind=\"kv\",policy=\"streaming\"}");
        // every head of every session counted once by its index's state
        double heads = 0;
        for (String state : List.of("none", "building", "ready", "failed")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("attend_kv_index_heads\\{state=\"" + state + "\"\\} ([0-9.]+)").matcher(scrape);
            assertThat(m.find()).as(state).isTrue();
            heads += Double.parseDouble(m.group(1));
        }
        int expected = 0;
        for (JsonNode sess : TestHttp.json(TestHttp.get(server, "/v1/kv/sessions")).path("sessions")) {
            expected += sess.path("layers").asInt() * sess.path("kvHeads").asInt();
        }
        assertThat(heads).isEqualTo(expected);
        assertThat(TestHttp.send(TestHttp.request(server, "/v1/kv/sessions/pol").DELETE().build()).statusCode()).isEqualTo(204);
    }

    @Test
    void prefillQueriesCanNameTheirQueryHeadForPerHeadIndexes() {
        SplittableRandom rnd = new SplittableRandom(SEED + 12);
        int d = 4;
        assertThat(post("/v1/kv/sessions", Map.of("id", "ph", "layers", 1, "kvHeads", 2, "queryHeadsPerKvHead", 2, "headDim", d,
                "sinkTokens", 2, "windowTokens", 4, "indexPerQueryHead", true)).statusCode()).isEqualTo(201);
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/ph")).path("indexPerQueryHead").asBoolean()).isTrue();
        Map<String, Object> prefill = new LinkedHashMap<>();
        prefill.put("layer", 0);
        prefill.put("kvHead", 1);
        prefill.put("from", 0);
        prefill.put("keys", rows(rnd, 20, d));
        prefill.put("values", rows(rnd, 20, d));
        prefill.put("queries", rows(rnd, 4, d));
        prefill.put("queryHeads", new int[] {2, 3, 2, 5}); // 5 is not a query head of KV head 1
        prefill.put("more", true);
        assertThat(post("/v1/kv/sessions/ph/prefill", prefill).statusCode()).isEqualTo(400);
        prefill.put("queryHeads", new int[] {2, 3, 2, 3});
        assertThat(post("/v1/kv/sessions/ph/prefill", prefill).statusCode()).isEqualTo(200);
        // Binary: the queries of one call belong to ?queryHead=.
        float[] body = new float[0];
        for (float[] q : rows(rnd, 3, d)) {
            body = concat(body, q);
        }
        HttpResponse<String> r = postBinary("/v1/kv/sessions/ph/prefill?layer=0&kvHead=1&from=20&tokens=0&queries=3&queryHead=3", body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        long deadline = System.nanoTime() + 30_000_000_000L;
        JsonNode index;
        do {
            index = TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/ph")).path("heads").get(1).path("index");
        } while (!index.path("state").asText().equals("ready") && System.nanoTime() < deadline);
        assertThat(index.path("state").asText()).isEqualTo("ready");
        assertThat(index.path("indexedKeys").asInt()).isEqualTo(20 - 2 - 4);
    }

    @Test
    void idleSessionsExpireAfterTheirTimeToLive(@TempDir Path dir) throws Exception {
        try (KvSessionRoutes shortLived = new KvSessionRoutes(dir.resolve("kv"), scorer, Duration.ofMillis(300), KvDurability.PROCESS)) {
            ServerMetrics metrics = new ServerMetrics();
            shortLived.bindMetrics(metrics.registry());
            AttendServer second = AttendServer.builder().metrics(metrics).routes(shortLived).build()
                    .start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
            try {
                String create = "{\"id\":\"idle\",\"layers\":1,\"kvHeads\":1,\"headDim\":2}";
                assertThat(TestHttp.post(second, "/v1/kv/sessions", BodyPublishers.ofString(create)).statusCode()).isEqualTo(201);
                // Used every 100 ms it stays; left alone it goes, files and all.
                for (int i = 0; i < 6; i++) {
                    Thread.sleep(100);
                    assertThat(TestHttp.get(second, "/v1/kv/sessions/idle").statusCode()).isEqualTo(200);
                }
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (TestHttp.get(second, "/v1/kv/sessions/idle").statusCode() == 200 && System.nanoTime() < deadline) {
                    Thread.sleep(600); // longer than the TTL, so the GET itself cannot keep it alive
                }
                assertThat(TestHttp.get(second, "/v1/kv/sessions/idle").statusCode()).isEqualTo(404);
                assertThat(dir.resolve("kv").resolve("idle")).doesNotExist();
                assertThat(TestHttp.get(second, "/metrics").body()).contains("attend_kv_sessions_expired_total 1.0");
            } finally {
                second.stop();
            }
        }
    }
}
