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
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One KV session of {@code attend serve}, driven over HTTP as a real client does it ({@link Http11Client}: HTTP/1.1, one
 * kept-alive connection, each request and its answer on the calling thread): created from a JSON body, prefilled and
 * decoded a layer at a time with binary bodies (the layer's answer binary too), read and asked for accuracy in JSON,
 * deleted on {@link #close}. A status other than 2xx is an {@link IllegalStateException} with the server's message, no
 * answer an {@link UncheckedIOException}; both name the request. The bearer token, if any, goes with every request.
 * {@link HttpAttention} (the language model's decode) and {@code bench model --over-http} drive their sessions with it.
 */
public final class KvHttpSession implements AutoCloseable {

    private static final String OCTETS = "application/octet-stream";
    private static final String JSON = "application/json";

    /**
     * A layer's decode step as the server answered it: per query head (in order) its output, log-sum-exp and the keys
     * it scanned; and the server's own time for the request ({@code Server-Timing}; -1 when absent).
     */
    public record LayerAnswer(float[][] outputs, double[] logSumExps, long[] keysScanned, long serverNanos) {
    }

    private final Http11Client http;
    /** {@code scheme://host:port}, for messages. */
    private final String origin;
    private final String token;
    private final String path;
    private final int headDim;
    private final Map<?, ?> created;
    private boolean closed;

    /**
     * Creates a session on the server at {@code baseUrl} (e.g. {@code http://127.0.0.1:8080}) with the JSON body
     * {@code createJson} of {@code POST /v1/kv/sessions}; {@code authToken} null or blank: none.
     */
    public KvHttpSession(String baseUrl, String authToken, String createJson) {
        URI base = URI.create(baseUrl);
        this.http = new Http11Client(base, Duration.ofSeconds(10), Duration.ofMinutes(5));
        this.origin = base.getScheme() + "://" + base.getRawAuthority();
        String prefix = base.getRawPath() == null || base.getRawPath().equals("/") ? "" : base.getRawPath().replaceAll("/+$", "");
        this.token = authToken == null || authToken.isBlank() ? null : authToken.strip();
        try {
            Http11Client.Response r = send("POST", prefix + "/v1/kv/sessions", createJson.getBytes(StandardCharsets.UTF_8), JSON, null,
                    "creating a KV session");
            this.created = (Map<?, ?>) JsonText.parse(new String(r.body(), StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            http.close();
            throw e;
        }
        this.path = prefix + "/v1/kv/sessions/" + URLEncoder.encode(String.valueOf(created.get("id")), StandardCharsets.UTF_8);
        this.headDim = ((Number) created.get("headDim")).intValue();
    }

    /** The session's address ({@code BASE/v1/kv/sessions/ID}). */
    public String url() {
        return origin + path;
    }

    /** The session's id. */
    public String id() {
        return String.valueOf(created.get("id"));
    }

    /** The session as its creation answered it (its shape and configuration). */
    public Map<?, ?> created() {
        return created;
    }

    /**
     * One binary prefill call: {@code keys} and {@code values} from position {@code from} of a KV head, and
     * {@code queries} that train its index, each of query head {@code queryHeads[i]} (null: not attributed); all
     * numbers as float16 with {@code float16} (half the bytes: for a session that stores float16 and queries that
     * float16 holds exactly), else float32; {@code more} when further chunks of the head follow.
     */
    public void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries, int[] queryHeads,
                        boolean more, boolean float16) {
        int width = float16 ? 2 : 4;
        ByteBuffer b = ByteBuffer.allocate((2 * keys.length + queries.length) * headDim * width
                + (queryHeads == null ? 0 : 4 * queryHeads.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (float[][] block : new float[][][] {keys, values, queries}) {
            for (float[] row : block) {
                put(b, row, float16);
            }
        }
        if (queryHeads != null) {
            for (int h : queryHeads) {
                b.putInt(h);
            }
        }
        String target = String.format(Locale.ROOT, "%s/prefill?layer=%d&kvHead=%d&from=%d&tokens=%d&queries=%d&more=%b%s%s", path, layer,
                kvHead, from, keys.length, queries.length, more, queryHeads == null ? "" : "&queryHeadsInBody=true",
                float16 ? "&dtype=float16" : "");
        send("POST", target, b.array(), OCTETS, null, "prefill of layer " + layer + " KV head " + kvHead + " from " + from);
    }

    private static void put(ByteBuffer b, float[] row, boolean float16) {
        for (float x : row) {
            if (float16) {
                b.putShort(Float.floatToFloat16(x));
            } else {
                b.putFloat(x);
            }
        }
    }

    /**
     * One {@code decode-layer} call (float32 binary body, binary answer): every KV head's key and value appended at
     * {@code position}, then every query head's answer; {@code budget} 0 is the server's default.
     */
    public LayerAnswer decodeLayer(int layer, int position, int budget, float[][] keys, float[][] values, float[][] queries) {
        int q = queries.length;
        ByteBuffer b = ByteBuffer.allocate((2 * keys.length + q) * headDim * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (float[][] block : new float[][][] {keys, values, queries}) {
            for (float[] row : block) {
                put(b, row, false);
            }
        }
        String target = path + "/decode-layer?layer=" + layer + "&position=" + position + (budget > 0 ? "&budget=" + budget : "");
        String what = "decode of layer " + layer + " at " + position;
        Http11Client.Response r = send("POST", target, b.array(), OCTETS, OCTETS, what);
        byte[] body = r.body();
        if (body.length != q * (headDim * Float.BYTES + Double.BYTES)) {
            throw new IllegalStateException(what + ": an answer of " + body.length + " bytes, expected " + q * (headDim * Float.BYTES + Double.BYTES));
        }
        ByteBuffer in = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
        float[][] outputs = new float[q][headDim];
        var floats = in.asFloatBuffer();
        for (float[] o : outputs) {
            floats.get(o);
        }
        double[] lse = new double[q];
        in.position(q * headDim * Float.BYTES);
        in.asDoubleBuffer().get(lse);
        long[] scanned = new long[q];
        String header = r.header("Attend-Keys-Scanned");
        int n = 0;
        for (String s : (header == null ? "" : header).split(",")) {
            if (!s.isBlank() && n < q) {
                scanned[n++] = Long.parseLong(s.strip());
            }
        }
        return new LayerAnswer(outputs, lse, scanned, serverNanos(r.header("Server-Timing")));
    }

    /** Nanoseconds of {@code Server-Timing: app;dur=MS}, or -1. */
    private static long serverNanos(String timing) {
        int at = timing == null ? -1 : timing.indexOf("dur=");
        if (at < 0) {
            return -1;
        }
        String ms = timing.substring(at + 4).split("[,;]")[0].strip();
        try {
            return (long) (Double.parseDouble(ms) * 1e6);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** {@code GET} of the session: its shape, memory and every KV head's index and policy state. */
    public Map<?, ?> describe() {
        Http11Client.Response r = send("GET", path, null, null, null, "reading the session");
        return (Map<?, ?>) JsonText.parse(new String(r.body(), StandardCharsets.UTF_8));
    }

    /** {@code POST} of the JSON body {@code json} to the session's {@code step} (e.g. {@code accuracy}); its parsed answer. */
    public Map<?, ?> post(String step, String json, String what) {
        Http11Client.Response r = send("POST", path + "/" + step, json.getBytes(StandardCharsets.UTF_8), JSON, null, what);
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
            send("DELETE", path, null, null, null, "deleting the session");
        } finally {
            http.close();
        }
    }

    /**
     * Sends {@code method target} with {@code body} of {@code contentType}, asking for an answer of type {@code accept}
     * (null: the server's choice).
     */
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
}
