package dev.attend.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.gpu.Precision;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.lm.KvHttpSession;
import dev.attend.retrieval.KvSessionConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bench model}'s session on an {@code attend serve} over HTTP ({@link KvHttpSession}: one kept-alive connection):
 * created with the in-process session's configuration, prefilled with binary bodies that carry each query's query head
 * (float16 numbers for a float16 session: its keys and values are stored in float16 anyway, and its prefill queries are
 * float16 rows), decoded with one binary {@code decode-layer} per layer (binary answer, the server's own time from
 * {@code Server-Timing}); index states and memory from the session's {@code GET}, accuracy from its {@code accuracy} route.
 */
final class HttpModelKv implements ModelKv {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final KvHttpSession session;
    private final boolean float16;

    /** Creates session {@code id} of {@code config} on the server at {@code baseUrl}. */
    HttpModelKv(String baseUrl, String id, KvSessionConfig config) {
        if (!config.indexParams().equals(AttentionAwareIndex.Params.defaults())) {
            throw new IllegalArgumentException("a session over HTTP builds its indexes with the default parameters");
        }
        Map<String, Object> create = new LinkedHashMap<>();
        create.put("id", id);
        create.put("layers", config.layers());
        create.put("kvHeads", config.kvHeads());
        create.put("queryHeadsPerKvHead", config.queryHeadsPerKvHead());
        create.put("headDim", config.headDim());
        create.put("sinkTokens", config.sinkTokens());
        create.put("windowTokens", config.windowTokens());
        create.put("topK", config.topK());
        create.put("scale", config.scale());
        create.put("storage", config.storage() == Precision.FLOAT16 ? "float16" : "float32");
        create.put("retriever", config.retriever().wireName());
        create.put("indexPerQueryHead", config.indexPerQueryHead());
        create.put("policy", config.policies().defaultPolicy());
        create.put("headPolicies", config.policies().perHead());
        this.session = new KvHttpSession(baseUrl, null, json(create));
        this.float16 = config.storage() == Precision.FLOAT16;
    }

    private static String json(Object body) {
        try {
            return JSON.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public boolean concurrentPrefill() {
        return false;
    }

    @Override
    public String id() {
        return session.id();
    }

    @Override
    public String transport() {
        return "http";
    }

    @Override
    public void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries, int[] queryHeads,
                        boolean more) {
        if (float16) {
            for (float[] q : queries) {
                for (float x : q) {
                    if (Float.float16ToFloat(Float.floatToFloat16(x)) != x) { // the session would train on another query
                        throw new IllegalStateException("a prefill query of layer " + layer + " KV head " + kvHead + " is not a float16 row");
                    }
                }
            }
        }
        session.prefill(layer, kvHead, from, keys, values, queries, queryHeads, more, float16);
    }

    @Override
    public List<String> indexStates() {
        List<String> states = new ArrayList<>();
        for (Object o : (List<?>) session.describe().get("heads")) {
            states.add(String.valueOf(((Map<?, ?>) ((Map<?, ?>) o).get("index")).get("state")));
        }
        return states;
    }

    @Override
    public Answer decodeLayer(int layer, int position, float[][] keys, float[][] values, float[][] queries) {
        KvHttpSession.LayerAnswer a = session.decodeLayer(layer, position, 0, keys, values, queries);
        return new Answer(a.outputs(), a.keysScanned(), -1, a.serverNanos());
    }

    @Override
    public Accuracy checkAccuracy(int layer, int queryHead, float[] query) {
        String body = json(Map.of("layer", layer, "queries", List.of(Map.of("queryHead", queryHead, "query", query))));
        Map<?, ?> r = (Map<?, ?>) ((List<?>) session.post("accuracy", body, "accuracy of layer " + layer + " query head " + queryHead)
                .get("results")).getFirst();
        Map<?, ?> answer = (Map<?, ?>) r.get("answer");
        return new Accuracy(String.valueOf(answer.get("mode")), number(r, "keyRecall"), number(r, "relativeError"), number(r, "massKept"),
                count(answer, "keysScanned"));
    }

    private static double number(Map<?, ?> m, String field) {
        return ((Number) m.get(field)).doubleValue();
    }

    private static long count(Map<?, ?> m, String field) {
        return ((Number) m.get(field)).longValue();
    }

    @Override
    public Memory memory() {
        Map<?, ?> s = session.describe();
        long d = count(s, "headDim");
        long kv = 0;
        long index = 0;
        long float16Kv = 0;
        for (Object o : (List<?>) s.get("heads")) {
            Map<?, ?> head = (Map<?, ?>) o;
            Map<?, ?> policy = (Map<?, ?>) head.get("policy");
            kv += count(policy, "kvBytes");
            index += count(policy, "indexBytes");
            float16Kv += 2 * count((Map<?, ?>) head.get("index"), "tokens") * d * 2;
        }
        return new Memory(count(s, "memoryBytes"), kv, index, float16Kv);
    }

    @Override
    public void close() {
        session.close();
    }
}
