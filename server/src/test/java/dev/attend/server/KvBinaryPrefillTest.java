package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A binary prefill whose queries carry their own query heads ({@code queryHeadsInBody=true}: Q int32 after the floats,
 * float16 floats included) against a real server: it trains per-query-head indexes exactly as the JSON prefill with
 * {@code queryHeads} does, and hostile forms of it are a 400 that stores nothing.
 */
class KvBinaryPrefillTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);
    private static final int D = 8;
    private static final int TOKENS = 200;
    private static final int QUERIES = 40;

    @BeforeAll
    static void printSeed() {
        System.out.println("KvBinaryPrefillTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @RegisterExtension
    static final KvTestServer SERVER = new KvTestServer();

    private static float[][] rows(SplittableRandom rnd, int n) {
        return KvTestServer.float16Rows(rnd, n, D);
    }

    private static void create(String id) {
        HttpResponse<String> r = TestHttp.postJson(SERVER.server(), "/v1/kv/sessions", Map.of("id", id, "layers", 1, "kvHeads", 2,
                "queryHeadsPerKvHead", 2, "headDim", D, "sinkTokens", 2, "windowTokens", 4, "storage", "float16", "indexPerQueryHead", true));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    }

    /** T keys, T values, Q queries in float16, then {@code heads} as int32 (none when null). */
    private static byte[] body(float[][] keys, float[][] values, float[][] queries, int[] heads) {
        int floats = (keys.length + values.length + queries.length) * D;
        ByteBuffer b = ByteBuffer.allocate(2 * floats + (heads == null ? 0 : 4 * heads.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (float[][] block : new float[][][] {keys, values, queries}) {
            for (float[] row : block) {
                for (float x : row) {
                    b.putShort(Float.floatToFloat16(x));
                }
            }
        }
        if (heads != null) {
            for (int h : heads) {
                b.putInt(h);
            }
        }
        return b.array();
    }

    private static HttpResponse<String> prefill(String id, String params, byte[] body) {
        return TestHttp.send(TestHttp.request(SERVER.server(), "/v1/kv/sessions/" + id + "/prefill?layer=0&kvHead=1&from=0&tokens=" + TOKENS
                + "&queries=" + QUERIES + "&dtype=float16" + params).header("Content-Type", "application/octet-stream")
                .POST(BodyPublishers.ofByteArray(body)).build());
    }

    private static JsonNode index(String id) {
        return TestHttp.json(TestHttp.get(SERVER.server(), "/v1/kv/sessions/" + id)).path("heads").get(1).path("index");
    }

    private static JsonNode awaitReady(String id) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        JsonNode index = index(id);
        while (!index.path("state").asText().equals("ready") && System.nanoTime() < deadline) {
            Thread.sleep(20);
            index = index(id);
        }
        return index;
    }

    @Test
    void queryHeadsInTheBodyTrainEachIndexAsJsonQueryHeadsDo_andHostileFormsChangeNothing() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 31);
        float[][] keys = rows(rnd, TOKENS);
        float[][] values = rows(rnd, TOKENS);
        float[][] queries = rows(rnd, QUERIES);
        int[] heads = new int[QUERIES];
        for (int i = 0; i < QUERIES; i++) {
            heads[i] = rnd.nextBoolean() ? 2 : 3; // the query heads of KV head 1
        }
        create("json");
        create("bin");
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("layer", 0);
        json.put("kvHead", 1);
        json.put("from", 0);
        json.put("keys", keys);
        json.put("values", values);
        json.put("queries", queries);
        json.put("queryHeads", heads);
        HttpResponse<String> r = TestHttp.postJson(SERVER.server(), "/v1/kv/sessions/json/prefill", json);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);

        int[] foreign = heads.clone();
        foreign[QUERIES / 2] = 5; // a query head of no KV head here
        int[] negative = heads.clone();
        negative[0] = -1;
        int[] ofKvHead0 = heads.clone();
        ofKvHead0[QUERIES - 1] = 1;
        List<Map.Entry<String, byte[]>> hostile = List.of(
                Map.entry("&queryHeadsInBody=true", body(keys, values, queries, null)), // the heads left out
                Map.entry("&queryHeadsInBody=true&more=true", body(keys, values, queries, new int[QUERIES - 1])), // one short
                Map.entry("&queryHeadsInBody=true", body(keys, values, queries, new int[QUERIES + 1])), // one too many
                Map.entry("&queryHeadsInBody=true", body(keys, values, queries, foreign)),
                Map.entry("&queryHeadsInBody=TRUE", body(keys, values, queries, negative)),
                Map.entry("&queryHeadsInBody=true", body(keys, values, queries, ofKvHead0)),
                Map.entry("&queryHeadsInBody=true&queryHead=2", body(keys, values, queries, heads)),
                Map.entry("&queryHeadsInBody=yes", body(keys, values, queries, heads)),
                Map.entry("&queryHeadsInBody=true&more=1", body(keys, values, queries, heads)));
        for (Map.Entry<String, byte[]> h : hostile) {
            HttpResponse<String> refused = prefill("bin", h.getKey(), h.getValue());
            assertThat(refused.statusCode()).as(h.getKey() + ": " + refused.body()).isEqualTo(400);
            assertThat(TestHttp.json(refused).path("error").path("message").asText()).as(h.getKey()).isNotBlank();
            assertThat(index("bin").path("tokens").asInt()).as("stored after " + h.getKey()).isZero();
        }

        r = prefill("bin", "&queryHeadsInBody=true", body(keys, values, queries, heads));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(awaitReady("json").path("state").asText()).isEqualTo("ready");
        JsonNode bin = awaitReady("bin");
        assertThat(bin.path("state").asText()).isEqualTo("ready");
        assertThat(bin.path("tokens").asInt()).isEqualTo(TOKENS);

        // Each query head's index trained on its own queries, the same in both: the same answers, bit for bit.
        for (float[] q : rows(rnd, 6)) {
            for (int head : new int[] {2, 3}) {
                Map<String, Object> attend = Map.of("layer", 0, "budget", 40, "queries", List.of(Map.of("queryHead", head, "query", q)));
                JsonNode a = TestHttp.json(TestHttp.postJson(SERVER.server(), "/v1/kv/sessions/json/attend", attend)).path("results").get(0);
                JsonNode b = TestHttp.json(TestHttp.postJson(SERVER.server(), "/v1/kv/sessions/bin/attend", attend)).path("results").get(0);
                assertThat(b.path("stats").path("mode").asText()).isEqualTo("index");
                assertThat(b.path("output")).isEqualTo(a.path("output"));
                assertThat(b.path("stats").path("keysScanned")).isEqualTo(a.path("stats").path("keysScanned"));
            }
        }
    }
}
