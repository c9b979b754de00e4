package dev.attend.lm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * Decode attention served by {@code attend serve} over HTTP, as a real client does it ({@link KvHttpSession}: HTTP/1.1,
 * one kept-alive connection, each request and its answer on the calling thread): one KV
 * session for the whole model, created as {@link SessionAttention} configures its in-process one (layers x KV heads, the
 * model's query heads per KV head, head dimension and scale, the static set, top-k and one policy for every head),
 * prefilled with binary bodies, then one {@code POST /v1/kv/sessions/{id}/decode-layer} per layer and position (binary
 * body and binary answer). The bearer token, if any, is the constructor's or comes from {@code ATTEND_AUTH_TOKEN}.
 */
public final class HttpAttention implements LayerAttention {

    /** Tokens per prefill call: (2 + group) x headDim floats each, well under the server's 8 MiB body limit. */
    static final int PREFILL_CHUNK_TOKENS = 4096;

    private final KvHttpSession session;
    private final int layers;
    private final int kvHeads;
    private final int group;
    private final int budget;
    private final String policy;
    private long keysScanned;
    private long attends;

    /**
     * Creates a session on the server at {@code baseUrl} (e.g. {@code http://127.0.0.1:8080}) for {@code model}, every head
     * under {@code policy}, {@code topK} keys retrieved, {@code budget} distance computations per index search (0: the
     * server's default, {@code KvSessionConfig.defaultBudget} of the head's length), {@code sinks} and {@code window}.
     */
    public HttpAttention(String baseUrl, ByteLmConfig model, String policy, int topK, int budget, int sinks, int window) {
        this(baseUrl, System.getenv("ATTEND_AUTH_TOKEN"), model, policy, topK, budget, sinks, window);
    }

    /** The same with the bearer token {@code authToken} (null or blank: none). */
    public HttpAttention(String baseUrl, String authToken, ByteLmConfig model, String policy, int topK, int budget, int sinks, int window) {
        this.layers = model.layers();
        this.kvHeads = model.kvHeads();
        this.group = model.group();
        this.budget = budget;
        this.policy = policy;
        String body = String.format(Locale.ROOT, "{\"layers\": %d, \"kvHeads\": %d, \"queryHeadsPerKvHead\": %d, \"headDim\": %d, \"scale\": %s,"
                        + " \"sinkTokens\": %d, \"windowTokens\": %d, \"topK\": %d, \"policy\": %s}", layers, kvHeads, group, model.headDim(),
                Float.toString(model.attentionScale()), sinks, window, topK, quoted(policy));
        this.session = new KvHttpSession(baseUrl, authToken, body);
    }

    /** The session's address ({@code BASE/v1/kv/sessions/ID}). */
    public String sessionUrl() {
        return session.url();
    }

    /**
     * Hands the session every layer's keys, values and queries of {@code prefill} (positions 0 onwards), in chunks of
     * {@value #PREFILL_CHUNK_TOKENS} tokens ({@code more=true} on all but each head's last). The queries go in token order
     * (each token's query heads in turn) without {@code queryHead}: the session keeps one index per KV head (no
     * {@code indexPerQueryHead}), which trains on every query of its KV head, as the in-process session's does, and the
     * position each query is attributed to (for an automatic choice) is the same.
     */
    public void prefill(ByteLm.Prefill prefill) {
        for (int l = 0; l < layers; l++) {
            ByteLm.LayerKv kv = prefill.layers().get(l);
            for (int g = 0; g < kvHeads; g++) {
                float[][] keys = kv.keyRows(g);
                float[][] values = kv.valueRows(g);
                float[][] queries = kv.queryRowsOf(g);
                int tokens = keys.length;
                for (int from = 0; from < tokens; from += PREFILL_CHUNK_TOKENS) {
                    int to = Math.min(tokens, from + PREFILL_CHUNK_TOKENS);
                    float[][] chunkQueries = queries.length == 0 ? queries : Arrays.copyOfRange(queries, from * group, to * group);
                    session.prefill(l, g, from, Arrays.copyOfRange(keys, from, to), Arrays.copyOfRange(values, from, to), chunkQueries, null,
                            to < tokens, false);
                }
            }
        }
    }

    /**
     * Polls the session until every head is ready (its index built or its policy opened, or too short to need an index);
     * an {@link IllegalStateException} names a head whose build failed, a {@link TimeoutException} says which heads are
     * still building.
     */
    public void awaitReady(long timeoutMillis) throws InterruptedException, TimeoutException {
        Map<?, ?> first = describe();
        HeadReadiness.await(() -> {
            List<HeadReadiness.Head> heads = new ArrayList<>();
            for (Object o : (List<?>) describe().get("heads")) {
                Map<?, ?> head = (Map<?, ?>) o;
                Map<?, ?> index = (Map<?, ?>) head.get("index");
                heads.add(new HeadReadiness.Head(head.get("layer") + "/" + head.get("kvHead"), String.valueOf(index.get("state")),
                        ((Number) index.get("tokens")).intValue()));
            }
            return heads;
        }, ((Number) first.get("sinkTokens")).intValue(), ((Number) first.get("windowTokens")).intValue(), timeoutMillis);
    }

    @Override
    public float[][] attend(int layer, int position, float[][] keys, float[][] values, float[][] queries) {
        KvHttpSession.LayerAnswer a = session.decodeLayer(layer, position, budget, keys, values, queries);
        long sum = 0;
        for (long s : a.keysScanned()) {
            sum += s;
        }
        synchronized (this) {
            keysScanned += sum;
            attends += a.keysScanned().length;
        }
        return a.outputs();
    }

    /** Mean keys scanned (exact products and index distance computations) per attend of one query head. */
    public synchronized double meanKeysScanned() {
        return attends == 0 ? 0 : (double) keysScanned / attends;
    }

    /** Bytes the session holds (its {@code memoryBytes}). */
    public long memoryBytes() {
        return ((Number) describe().get("memoryBytes")).longValue();
    }

    /** What each KV head follows ("layer/kvHead" -> policy; the configured one while undecided). */
    public Map<String, String> policies() {
        Map<String, String> m = new LinkedHashMap<>();
        for (Object o : (List<?>) describe().get("heads")) {
            Map<?, ?> head = (Map<?, ?>) o;
            Object p = head.get("policy") instanceof Map<?, ?> ps ? (ps.get("policy") != null ? ps.get("policy") : ps.get("configured")) : null;
            m.put(head.get("layer") + "/" + head.get("kvHead"), p == null ? policy : String.valueOf(p));
        }
        return m;
    }

    /** {@code GET} of the session. */
    private Map<?, ?> describe() {
        return session.describe();
    }

    /** Deletes the session and closes the connection. */
    @Override
    public void close() {
        session.close();
    }

    private static String quoted(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
