package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code POST /v1/kv/sessions/{id}/decode-layer}: the same answers as a decode per KV head, in JSON and binary (float32 and
 * float16 bodies, JSON and binary answers); bad input is a 400 and no head changes.
 */
class KvDecodeLayerRoutesTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("KvDecodeLayerRoutesTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    private static final int D = 8;
    private static final int KV = 2;
    private static final int GROUP = 3;
    private static final int LAYER = 1;
    private static final int PREFILL = 30;

    @RegisterExtension
    static final KvTestServer SERVER = new KvTestServer();

    private static HttpResponse<String> post(String path, Object body) {
        return TestHttp.postJson(SERVER.server(), path, body);
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        return KvTestServer.float16Rows(rnd, n, D);
    }

    private static byte[] body(boolean half, float[][]... parts) {
        int count = 0;
        for (float[][] p : parts) {
            count += p.length * D;
        }
        ByteBuffer b = ByteBuffer.allocate((half ? 2 : 4) * count).order(ByteOrder.LITTLE_ENDIAN);
        for (float[][] p : parts) {
            for (float[] row : p) {
                for (float x : row) {
                    if (half) {
                        b.putShort(Float.floatToFloat16(x));
                    } else {
                        b.putFloat(x);
                    }
                }
            }
        }
        return b.array();
    }

    private static HttpResponse<byte[]> postBinary(String path, byte[] body, boolean binaryAnswer) throws Exception {
        HttpRequest.Builder r = TestHttp.request(SERVER.server(), path).header("Content-Type", "application/octet-stream")
                .POST(BodyPublishers.ofByteArray(body));
        if (binaryAnswer) {
            r.header("Accept", "application/octet-stream");
        }
        return TestHttp.CLIENT.send(r.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static void create(String id) {
        HttpResponse<String> r = post("/v1/kv/sessions", Map.of("id", id, "layers", 2, "kvHeads", KV, "queryHeadsPerKvHead", GROUP,
                "headDim", D, "sinkTokens", 4, "windowTokens", 64));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    }

    private static void prefill(String id, float[][][] keys, float[][][] values, float[][][] queries) {
        for (int h = 0; h < KV; h++) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("layer", LAYER);
            p.put("kvHead", h);
            p.put("from", 0);
            p.put("keys", keys[h]);
            p.put("values", values[h]);
            p.put("queries", queries[h]);
            HttpResponse<String> r = post("/v1/kv/sessions/" + id + "/prefill", p);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        }
    }

    /** Each KV head's tokens on the layer. */
    private static int[] tokens(String id) {
        JsonNode s = TestHttp.json(TestHttp.get(SERVER.server(), "/v1/kv/sessions/" + id));
        int[] out = new int[KV];
        for (JsonNode h : s.path("heads")) {
            if (h.path("layer").asInt() == LAYER) {
                out[h.path("kvHead").asInt()] = h.path("index").path("tokens").asInt();
            }
        }
        return out;
    }

    /** One answer: its output as float32 and log-sum-exp as float64 (what JSON and the binary answer both carry exactly). */
    record Answer(float[] output, double logSumExp, long keysScanned) {
    }

    private static List<Answer> fromJson(JsonNode results) {
        List<Answer> out = new ArrayList<>();
        for (JsonNode r : results) {
            float[] o = new float[D];
            for (int c = 0; c < D; c++) {
                o[c] = (float) r.path("output").get(c).asDouble();
            }
            out.add(new Answer(o, r.path("logSumExp").asDouble(), r.path("stats").path("keysScanned").asLong()));
        }
        return out;
    }

    private static List<Answer> fromBinary(HttpResponse<byte[]> r, int queryHeads) {
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/octet-stream");
        assertThat(r.body()).hasSize(queryHeads * (4 * D + 8));
        ByteBuffer b = ByteBuffer.wrap(r.body()).order(ByteOrder.LITTLE_ENDIAN);
        String[] scanned = r.headers().firstValue("Attend-Keys-Scanned").orElseThrow().split(",");
        assertThat(scanned).hasSize(queryHeads);
        List<Answer> out = new ArrayList<>();
        for (int q = 0; q < queryHeads; q++) {
            float[] o = new float[D];
            for (int c = 0; c < D; c++) {
                o[c] = b.getFloat((q * D + c) * 4);
            }
            out.add(new Answer(o, b.getDouble(queryHeads * D * 4 + 8 * q), Long.parseLong(scanned[q])));
        }
        return out;
    }

    private static void assertSameAnswers(List<Answer> got, List<Answer> expected) {
        assertThat(got).hasSameSizeAs(expected);
        for (int q = 0; q < expected.size(); q++) {
            // to float rounding: a scan split over the scorer's threads as they come free may sum in another order
            assertThat(got.get(q).output()).as("query head %d", q).containsExactly(expected.get(q).output(),
                    Offset.offset(1e-5f));
            assertThat(got.get(q).logSumExp()).as("query head %d", q).isCloseTo(expected.get(q).logSumExp(),
                    Offset.offset(1e-5));
            assertThat(got.get(q).keysScanned()).as("query head %d", q).isEqualTo(expected.get(q).keysScanned());
        }
    }

    @Test
    void aLayerStepAnswersAsADecodePerKvHeadInJsonAndBinary() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 21);
        float[][][] keys = new float[KV][][];
        float[][][] values = new float[KV][][];
        float[][][] queries = new float[KV][][];
        for (int h = 0; h < KV; h++) {
            keys[h] = rows(rnd, PREFILL);
            values[h] = rows(rnd, PREFILL);
            queries[h] = rows(rnd, 10);
        }
        for (String id : List.of("per-head", "layer-json", "layer-bin")) {
            create(id);
            prefill(id, keys, values, queries);
        }
        int queryHeads = KV * GROUP;
        for (int step = 0; step < 8; step++) {
            int position = PREFILL + step;
            float[][] k = rows(rnd, KV);
            float[][] v = rows(rnd, KV);
            float[][] q = rows(rnd, queryHeads);
            // Per KV head: the existing decode, one call each.
            List<Answer> expected = new ArrayList<>();
            for (int h = 0; h < KV; h++) {
                List<Map<String, Object>> qs = new ArrayList<>();
                for (int g = 0; g < GROUP; g++) {
                    qs.add(Map.of("queryHead", h * GROUP + g, "query", q[h * GROUP + g]));
                }
                HttpResponse<String> r = post("/v1/kv/sessions/per-head/decode", Map.of("layer", LAYER, "kvHead", h, "position", position,
                        "key", k[h], "value", v[h], "queries", qs));
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                expected.addAll(fromJson(TestHttp.json(r).path("results")));
            }
            // The whole layer in JSON.
            HttpResponse<String> json = post("/v1/kv/sessions/layer-json/decode-layer", Map.of("layer", LAYER, "position", position,
                    "keys", k, "values", v, "queries", q));
            assertThat(json.statusCode()).as(json.body()).isEqualTo(200);
            JsonNode answer = TestHttp.json(json);
            assertThat(answer.path("tokens").asInt()).isEqualTo(position + 1);
            for (int i = 0; i < queryHeads; i++) {
                assertThat(answer.path("results").get(i).path("queryHead").asInt()).isEqualTo(i);
                assertThat(answer.path("results").get(i).path("stats").path("mode").asText()).isEqualTo("flat");
            }
            assertSameAnswers(fromJson(answer.path("results")), expected);
            // The whole layer in binary: float32 and float16 bodies, JSON and binary answers in turn.
            boolean half = step % 4 >= 2;
            boolean binaryAnswer = step % 2 == 1;
            HttpResponse<byte[]> bin = postBinary("/v1/kv/sessions/layer-bin/decode-layer?layer=" + LAYER + "&position=" + position
                    + (half ? "&dtype=float16" : ""), body(half, k, v, q), binaryAnswer);
            assertThat(bin.statusCode()).as(new String(bin.body(), StandardCharsets.UTF_8)).isEqualTo(200);
            if (binaryAnswer) {
                assertThat(bin.headers().firstValue("Attend-Tokens")).hasValue(Integer.toString(position + 1));
                assertSameAnswers(fromBinary(bin, queryHeads), expected);
            } else {
                assertSameAnswers(fromJson(Json.MAPPER.readTree(bin.body()).path("results")), expected);
            }
        }
        for (String id : List.of("per-head", "layer-json", "layer-bin")) {
            assertThat(tokens(id)).containsExactly(PREFILL + 8, PREFILL + 8);
        }
        // With a budget given, the same again (a flat head scans every key whatever the budget).
        int position = PREFILL + 8;
        float[][] k = rows(rnd, KV);
        float[][] v = rows(rnd, KV);
        float[][] q = rows(rnd, queryHeads);
        HttpResponse<byte[]> a = postBinary("/v1/kv/sessions/layer-bin/decode-layer?layer=1&position=" + position + "&budget=5",
                body(false, k, v, q), true);
        HttpResponse<String> b = post("/v1/kv/sessions/layer-json/decode-layer", Map.of("layer", LAYER, "position", position,
                "keys", k, "values", v, "queries", q, "budget", 5));
        assertThat(a.statusCode()).isEqualTo(200);
        assertThat(b.statusCode()).as(b.body()).isEqualTo(200);
        assertSameAnswers(fromBinary(a, queryHeads), fromJson(TestHttp.json(b).path("results")));
    }

    @Test
    void badInputIsA400AndNoHeadChanges() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 22);
        String id = "bad-layer";
        create(id);
        float[][][] keys = {rows(rnd, PREFILL), rows(rnd, PREFILL)};
        float[][][] values = {rows(rnd, PREFILL), rows(rnd, PREFILL)};
        prefill(id, keys, values, new float[][][] {rows(rnd, 4), rows(rnd, 4)});
        String path = "/v1/kv/sessions/" + id + "/decode-layer";
        float[][] k = rows(rnd, KV);
        float[][] v = rows(rnd, KV);
        float[][] q = rows(rnd, KV * GROUP);
        float[][] shortQuery = q.clone();
        shortQuery[4] = new float[D - 1];
        List<Map<String, Object>> badJson = List.of(
                Map.of("layer", LAYER, "position", PREFILL, "keys", new float[][] {k[0]}, "values", v, "queries", q),
                Map.of("layer", LAYER, "position", PREFILL, "keys", k, "values", v, "queries", Arrays.copyOf(q, 5)),
                Map.of("layer", LAYER, "position", PREFILL, "keys", k, "values", v, "queries", shortQuery),
                Map.of("layer", LAYER, "position", PREFILL - 1, "keys", k, "values", v, "queries", q),
                Map.of("layer", LAYER, "position", PREFILL + 1, "keys", k, "values", v, "queries", q),
                Map.of("layer", LAYER, "position", PREFILL, "keys", k, "values", v, "queries", q, "budget", 0),
                Map.of("layer", 2, "position", PREFILL, "keys", k, "values", v, "queries", q),
                Map.of("layer", LAYER, "keys", k, "values", v, "queries", q),
                Map.of("layer", LAYER, "position", PREFILL, "keys", k, "queries", q));
        for (Map<String, Object> body : badJson) {
            HttpResponse<String> r = post(path, body);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
            assertThat(tokens(id)).containsExactly(PREFILL, PREFILL);
        }
        float[][] nanQuery = rows(rnd, KV * GROUP);
        nanQuery[5][2] = Float.NaN;
        float[][] infKey = rows(rnd, KV);
        infKey[1][0] = Float.NEGATIVE_INFINITY;
        List<String> paramsAndBodies = List.of("?layer=1&position=" + PREFILL, "?layer=1", "?position=" + PREFILL,
                "?layer=1&position=x", "?layer=1&position=" + PREFILL + "&dtype=bfloat16", "?layer=1&position=" + PREFILL + "&budget=0");
        for (String params : paramsAndBodies) {
            byte[] body = params.equals("?layer=1&position=" + PREFILL) ? body(false, k, v) : body(false, k, v, q); // the first: no queries
            HttpResponse<byte[]> r = postBinary(path + params, body, true);
            assertThat(r.statusCode()).as(params).isEqualTo(400);
            assertThat(tokens(id)).containsExactly(PREFILL, PREFILL);
        }
        for (byte[] body : List.of(body(false, k, v, nanQuery), body(false, infKey, v, q), body(true, k, v, q))) { // the last: float16 without dtype
            HttpResponse<byte[]> r = postBinary(path + "?layer=1&position=" + PREFILL, body, false);
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(tokens(id)).containsExactly(PREFILL, PREFILL);
        }
        // One KV head ahead of the other: the step's position is out of order for it, and the other head takes nothing either.
        HttpResponse<String> one = post("/v1/kv/sessions/" + id + "/append", Map.of("layer", LAYER, "kvHead", 1, "position", PREFILL,
                "key", k[1], "value", v[1]));
        assertThat(one.statusCode()).as(one.body()).isEqualTo(200);
        HttpResponse<String> r = post(path, Map.of("layer", LAYER, "position", PREFILL, "keys", k, "values", v, "queries", q));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("KV head 1");
        assertThat(tokens(id)).containsExactly(PREFILL, PREFILL + 1);
        // An unknown session is a 404; a body over the limit a 413.
        assertThat(post("/v1/kv/sessions/nope/decode-layer", Map.of("layer", LAYER, "position", 0, "keys", k, "values", v, "queries", q))
                .statusCode()).isEqualTo(404);
        assertThat(postBinary(path + "?layer=1&position=" + PREFILL, new byte[(1 << 20) + 4], false).statusCode()).isEqualTo(413);
        assertThat(tokens(id)).containsExactly(PREFILL, PREFILL + 1);
    }
}
