package dev.attend.lm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * Decode attention served by {@code attend serve} over HTTP, as a real client does it ({@link Http11Client}: HTTP/1.1,
 * one kept-alive connection, each request and its answer on the calling thread): one KV
 * session for the whole model, created as {@link SessionAttention} configures its in-process one (layers x KV heads, the
 * model's query heads per KV head, head dimension and scale, the static set, top-k and one policy for every head),
 * prefilled with binary bodies, then one {@code POST /v1/kv/sessions/{id}/decode-layer} per layer and position (binary
 * body and binary answer). The bearer token, if any, is the constructor's or comes from {@code ATTEND_AUTH_TOKEN}.
 */
public final class HttpAttention implements LayerAttention {

    /** Tokens per prefill call: (2 + group) x headDim floats each, well under the server's 8 MiB body limit. */
    static final int PREFILL_CHUNK_TOKENS = 4096;

    private static final String OCTETS = "application/octet-stream";

    private final Http11Client http;
    /** {@code scheme://host:port}, for messages. */
    private final String origin;
    private final String token;
    private final String sessionUrl;
    private final String sessionPath;
    private final int layers;
    private final int kvHeads;
    private final int group;
    private final int headDim;
    private final int budget;
    private final String policy;
    private long keysScanned;
    private long attends;
    private boolean closed;

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
        URI base = URI.create(baseUrl);
        this.http = new Http11Client(base, Duration.ofSeconds(10), Duration.ofMinutes(5));
        this.origin = base.getScheme() + "://" + base.getRawAuthority();
        String prefix = base.getRawPath() == null || base.getRawPath().equals("/") ? "" : base.getRawPath().replaceAll("/+$", "");
        this.token = authToken == null || authToken.isBlank() ? null : authToken.strip();
        this.layers = model.layers();
        this.kvHeads = model.kvHeads();
        this.group = model.group();
        this.headDim = model.headDim();
        this.budget = budget;
        this.policy = policy;
        String body = String.format(Locale.ROOT, "{\"layers\": %d, \"kvHeads\": %d, \"queryHeadsPerKvHead\": %d, \"headDim\": %d, \"scale\": %s,"
                        + " \"sinkTokens\": %d, \"windowTokens\": %d, \"topK\": %d, \"policy\": %s}", layers, kvHeads, group, headDim,
                Float.toString(model.attentionScale()), sinks, window, topK, quoted(policy));
        Map<?, ?> created;
        try {
            Http11Client.Response r = send("POST", prefix + "/v1/kv/sessions", body.getBytes(StandardCharsets.UTF_8), "application/json",
                    "creating a KV session");
            created = (Map<?, ?>) JsonText.parse(new String(r.body(), StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            http.close();
            throw e;
        }
        this.sessionPath = prefix + "/v1/kv/sessions/" + URLEncoder.encode(String.valueOf(created.get("id")), StandardCharsets.UTF_8);
        this.sessionUrl = origin + sessionPath;
    }

    /** The session's address ({@code BASE/v1/kv/sessions/ID}). */
    public String sessionUrl() {
        return sessionUrl;
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
                    int n = Math.min(PREFILL_CHUNK_TOKENS, tokens - from);
                    int qn = queries.length == 0 ? 0 : n * group;
                    ByteBuffer b = ByteBuffer.allocate((2 * n + qn) * headDim * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                    var f = b.asFloatBuffer();
                    for (int i = 0; i < n; i++) {
                        f.put(keys[from + i]);
                    }
                    for (int i = 0; i < n; i++) {
                        f.put(values[from + i]);
                    }
                    for (int i = 0; i < qn; i++) {
                        f.put(queries[from * group + i]);
                    }
                    boolean more = from + n < tokens;
                    String target = String.format(Locale.ROOT, "%s/prefill?layer=%d&kvHead=%d&from=%d&tokens=%d&queries=%d&more=%b", sessionPath,
                            l, g, from, n, qn, more);
                    send("POST", target, b.array(), OCTETS, "prefill of layer " + l + " KV head " + g + " from " + from);
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
        int q = queries.length;
        ByteBuffer b = ByteBuffer.allocate((2 * keys.length + q) * headDim * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        var f = b.asFloatBuffer();
        for (float[] k : keys) {
            f.put(k);
        }
        for (float[] v : values) {
            f.put(v);
        }
        for (float[] x : queries) {
            f.put(x);
        }
        String target = sessionPath + "/decode-layer?layer=" + layer + "&position=" + position + (budget > 0 ? "&budget=" + budget : "");
        Http11Client.Response r = send("POST", target, b.array(), OCTETS, OCTETS, "decode of layer " + layer + " at " + position);
        byte[] body = r.body();
        if (body.length != q * (headDim * Float.BYTES + Double.BYTES)) {
            throw new IllegalStateException("decode of layer " + layer + " at " + position + ": an answer of " + body.length + " bytes, expected "
                    + q * (headDim * Float.BYTES + Double.BYTES));
        }
        var in = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[][] out = new float[q][headDim];
        for (int h = 0; h < q; h++) {
            in.get(out[h]);
        }
        String scanned = r.header("Attend-Keys-Scanned");
        scanned = scanned == null ? "" : scanned;
        long sum = 0;
        int n = 0;
        for (String s : scanned.split(",")) {
            if (!s.isBlank()) {
                sum += Long.parseLong(s.strip());
                n++;
            }
        }
        synchronized (this) {
            keysScanned += sum;
            attends += n;
        }
        return out;
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
        Http11Client.Response r = send("GET", sessionPath, null, null, "reading the session");
        return (Map<?, ?>) JsonText.parse(new String(r.body(), StandardCharsets.UTF_8));
    }

    /** Deletes the session and closes the connection. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            send("DELETE", sessionPath, null, null, "deleting the session");
        } finally {
            http.close();
        }
    }

    /**
     * Sends {@code method target} with {@code body} of {@code contentType}; a status other than 2xx is an
     * {@link IllegalStateException} with the server's message, no answer an {@link UncheckedIOException}.
     */
    private Http11Client.Response send(String method, String target, byte[] body, String contentType, String what) {
        return send(method, target, body, contentType, null, what);
    }

    /** The same, asking for an answer of type {@code accept} (null: the server's choice). */
    private Http11Client.Response send(String method, String target, byte[] body, String contentType, String accept, String what) {
        List<String> headers = new ArrayList<>(6);
        if (contentType != null) {
            headers.add("Content-Type");
            headers.add(contentType);
        }
        if (accept != null) {
            headers.add("Accept");
            headers.add(accept);
        }
        if (token != null) {
            headers.add("Authorization");
            headers.add("Bearer " + token);
        }
        Http11Client.Response r;
        try {
            r = http.send(method, target, body, headers.toArray(String[]::new));
        } catch (IOException e) {
            throw new UncheckedIOException(what + ": " + method + " " + origin + target + ": " + e.getMessage(), e);
        }
        if (r.status() / 100 != 2) {
            throw new IllegalStateException(what + ": " + method + " " + pathOf(target) + " answered " + r.status() + ": " + message(r.body()));
        }
        return r;
    }

    private static String pathOf(String target) {
        int q = target.indexOf('?');
        return q < 0 ? target : target.substring(0, q);
    }

    /** The server's error message ({@code {"error": {"message": ...}}}), or the body as it is. */
    private static String message(byte[] body) {
        String text = new String(body, StandardCharsets.UTF_8);
        try {
            if (JsonText.parse(text) instanceof Map<?, ?> m && m.get("error") instanceof Map<?, ?> e && e.get("message") != null) {
                return String.valueOf(e.get("message"));
            }
        } catch (RuntimeException ignored) {
            // not JSON: the body as it is
        }
        return text.length() > 500 ? text.substring(0, 500) + "..." : text;
    }

    private static String quoted(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
