package dev.attend.server.kv;

import dev.attend.index.store.ResourceId;
import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.KvSession;
import dev.attend.server.ApiException;
import dev.attend.server.ErrorCodes;
import dev.attend.server.kv.KvRequests.AppendRequest;
import dev.attend.server.kv.KvRequests.AttendRequest;
import dev.attend.server.kv.KvRequests.DecodeLayerRequest;
import dev.attend.server.kv.KvRequests.DecodeRequest;
import dev.attend.server.kv.KvRequests.HeadQuery;
import dev.attend.server.kv.KvRequests.PrefillRequest;
import io.javalin.http.Context;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The binary wire format of {@link KvSessionRoutes} ({@code Content-Type: application/octet-stream}): vectors as
 * little-endian float32 (or float16 with {@code ?dtype=float16}), the numbers that say where they go as query
 * parameters, read into the same request records as JSON; and the binary answer of a layer decode. JSON numbers
 * cost more to parse than the attention itself.
 */
final class KvBinaryBodies {

    private KvBinaryBodies() {
    }

    /** Whether the request body is binary ({@code Content-Type: application/octet-stream}). */
    static boolean isBinary(Context ctx) {
        String type = ctx.contentType();
        return type != null && type.toLowerCase(Locale.ROOT).startsWith("application/octet-stream");
    }

    /**
     * Prefill: {@code ?layer=&kvHead=&from=&tokens=T&queries=Q&queryHead=&queryHeadsInBody=&more=}, body = T keys, then
     * T values, then Q queries ((2T + Q) x headDim floats); {@code queryHead} (optional) attributes every query to one
     * query head, {@code queryHeadsInBody=true} each query to its own: the body then ends with Q little-endian int32
     * query heads (whatever the dtype of the floats); {@code more=true} when further chunks follow (the index build
     * waits).
     */
    static PrefillRequest prefill(Context ctx, KvSession s) {
        int d = s.config().headDim();
        int tokens = intParam(ctx, "tokens");
        int queries = intParam(ctx, "queries");
        String queryHead = ctx.queryParam("queryHead");
        boolean headsInBody = booleanParam(ctx, "queryHeadsInBody");
        if (tokens < 0 || queries < 0) {
            throw ApiException.badRequest("tokens and queries must be >= 0", Map.of());
        }
        if (headsInBody && queryHead != null) {
            throw ApiException.badRequest("give queryHead (one for every query) or queryHeadsInBody=true (one each), not both",
                    Map.of("field", "queryHead"));
        }
        long count = (2L * tokens + queries) * d;
        if (count > Integer.MAX_VALUE / 4) {
            throw new ApiException(413, ErrorCodes.PAYLOAD_TOO_LARGE, "a prefill of " + tokens + " tokens and " + queries
                    + " queries is too large for one call: split it", Map.of());
        }
        int trailer = headsInBody ? queries : 0;
        ByteBuffer body = body(ctx, (int) count, 4L * trailer, "a prefill body holds " + tokens + " keys, " + tokens
                + " values and " + queries + " queries of " + d + " numbers" + (headsInBody ? ", then " + queries + " int32 query heads" : ""));
        float[] floats = floats(ctx, body, (int) count);
        int[] heads = null;
        if (headsInBody) {
            heads = new int[queries];
            body.asIntBuffer().get(heads);
        } else if (queryHead != null) {
            heads = filled(queries, parseInt("queryHead", queryHead));
        }
        return new PrefillRequest(intParam(ctx, "layer"), intParam(ctx, "kvHead"), intParam(ctx, "from"),
                rows(floats, 0, tokens, d), rows(floats, tokens, tokens, d), rows(floats, 2 * tokens, queries, d), heads,
                booleanParam(ctx, "more"));
    }

    private static int[] filled(int length, int value) {
        int[] out = new int[length];
        Arrays.fill(out, value);
        return out;
    }

    private static float[][] rows(float[] floats, int first, int count, int d) {
        float[][] out = new float[count][];
        for (int i = 0; i < count; i++) {
            out[i] = Arrays.copyOfRange(floats, (first + i) * d, (first + i + 1) * d);
        }
        return out;
    }

    /**
     * Decode: {@code ?layer=&kvHead=&position=&queryHeads=H1,H2...&budget=} (budget optional), body = key, value,
     * then one query per listed query head ((2 + heads) x headDim floats).
     */
    static DecodeRequest decode(Context ctx, KvSession s) {
        int d = s.config().headDim();
        String list = ctx.queryParam("queryHeads");
        if (list == null || list.isBlank()) {
            throw ApiException.badRequest("query parameter 'queryHeads' is required with a binary body", Map.of("field", "queryHeads"));
        }
        String[] heads = list.split(",");
        if (heads.length > s.config().queryHeads()) {
            throw ApiException.badRequest(heads.length + " query heads listed, the session has " + s.config().queryHeads(),
                    Map.of("field", "queryHeads"));
        }
        float[] floats = floats(ctx, (2 + heads.length) * d, "a decode body holds the key, the value and "
                + heads.length + " queries of " + d + " numbers");
        List<HeadQuery> queries = new ArrayList<>();
        for (int i = 0; i < heads.length; i++) {
            queries.add(new HeadQuery(parseInt("queryHeads", heads[i]), Arrays.copyOfRange(floats, (2 + i) * d, (3 + i) * d)));
        }
        String budget = ctx.queryParam("budget");
        return new DecodeRequest(intParam(ctx, "layer"), intParam(ctx, "kvHead"), intParam(ctx, "position"),
                Arrays.copyOfRange(floats, 0, d), Arrays.copyOfRange(floats, d, 2 * d), queries,
                budget == null ? null : parseInt("budget", budget));
    }

    /**
     * Layer decode: {@code ?layer=&position=&budget=} (budget optional), body = one key per KV head, one value per KV head,
     * then one query per query head in query-head order ((2 kvHeads + queryHeads) x headDim floats).
     */
    static DecodeLayerRequest decodeLayer(Context ctx, KvSession s) {
        int d = s.config().headDim();
        int kv = s.config().kvHeads();
        int q = s.config().queryHeads();
        long count = (2L * kv + q) * d;
        if (count > KvSessionRoutes.SMALL_BODY_BYTES) { // more numbers than the body limit lets through
            throw new ApiException(413, ErrorCodes.PAYLOAD_TOO_LARGE, "a layer decode of this session (" + kv + " KV heads, " + q
                    + " query heads of " + d + " numbers) is larger than " + KvSessionRoutes.SMALL_BODY_BYTES + " bytes", Map.of());
        }
        float[] floats = floats(ctx, (int) count, "a layer decode body holds " + kv + " keys, " + kv + " values and " + q
                + " queries of " + d + " numbers");
        String budget = ctx.queryParam("budget");
        return new DecodeLayerRequest(intParam(ctx, "layer"), intParam(ctx, "position"), rows(floats, 0, kv, d),
                rows(floats, kv, kv, d), rows(floats, 2 * kv, q, d), budget == null ? null : parseInt("budget", budget));
    }

    /** Whether the client asks for a binary answer ({@code Accept: application/octet-stream}). */
    static boolean acceptsBinary(Context ctx) {
        String accept = ctx.header("Accept");
        return accept != null && accept.toLowerCase(Locale.ROOT).contains("application/octet-stream");
    }

    /**
     * A binary answer of {@code answers} (one per query head, in order): every output as little-endian float32
     * (queryHeads x headDim), then every log-sum-exp as little-endian float64 (queryHeads); the tokens each head holds in
     * {@code Attend-Tokens} and the keys each answer scanned in {@code Attend-Keys-Scanned} (comma-separated, in order).
     */
    static void answer(Context ctx, int tokens, AttendResult[] answers) {
        int d = answers.length == 0 ? 0 : answers[0].output().length;
        byte[] body = new byte[answers.length * (4 * d + 8)];
        ByteBuffer b = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer outputs = b.asFloatBuffer();
        StringBuilder scanned = new StringBuilder();
        for (AttendResult a : answers) {
            outputs.put(a.output());
            scanned.append(scanned.isEmpty() ? "" : ",").append(a.stats().keysScanned());
        }
        b.position(answers.length * 4 * d);
        for (AttendResult a : answers) {
            b.putDouble(a.logSumExp());
        }
        ctx.header("Attend-Tokens", Integer.toString(tokens));
        ctx.header("Attend-Keys-Scanned", scanned.toString());
        ctx.contentType("application/octet-stream").result(body);
    }

    /** Append: {@code ?layer=&kvHead=&position=}, body = key then value (2 x headDim floats). */
    static AppendRequest append(Context ctx, KvSession s) {
        int d = s.config().headDim();
        float[] floats = floats(ctx, 2 * d, "an append body holds the key then the value: 2 x " + d + " numbers");
        return new AppendRequest(intParam(ctx, "layer"), intParam(ctx, "kvHead"), intParam(ctx, "position"),
                Arrays.copyOfRange(floats, 0, d), Arrays.copyOfRange(floats, d, 2 * d));
    }

    /** Attend: {@code ?layer=&queryHead=&budget=} (budget optional), body = the query (headDim floats). */
    static AttendRequest attend(Context ctx, KvSession s) {
        int d = s.config().headDim();
        float[] query = floats(ctx, d, "an attend body holds one query: " + d + " numbers");
        String budget = ctx.queryParam("budget");
        return new AttendRequest(intParam(ctx, "layer"), List.of(new HeadQuery(intParam(ctx, "queryHead"), query)),
                budget == null ? null : parseInt("budget", budget));
    }

    /**
     * The body's {@code count} numbers: little-endian float32, or float16 with {@code ?dtype=float16} (half the
     * bytes; the session stores what its own storage precision says).
     */
    private static float[] floats(Context ctx, int count, String expected) {
        return floats(ctx, body(ctx, count, 0, expected), count);
    }

    /**
     * The body, checked to hold {@code count} numbers of the request's dtype and {@code trailingBytes} after them; a
     * little-endian buffer at its start.
     */
    private static ByteBuffer body(Context ctx, int count, long trailingBytes, String expected) {
        String dtype = dtype(ctx);
        long width = dtype.equals("float16") ? 2 : 4;
        byte[] body = ctx.bodyAsBytes();
        long bytes = width * count + trailingBytes;
        if (body.length != bytes) {
            throw ApiException.badRequest("body has " + body.length + " bytes; " + expected + " as " + dtype + " (" + bytes + " bytes)",
                    Map.of("bytes", body.length, "expected", bytes));
        }
        return ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads {@code count} numbers of the request's dtype from {@code b}, leaving it after them. */
    private static float[] floats(Context ctx, ByteBuffer b, int count) {
        float[] out = new float[count];
        if (dtype(ctx).equals("float32")) {
            b.asFloatBuffer().get(out);
            b.position(b.position() + 4 * count);
        } else {
            for (int i = 0; i < count; i++) {
                out[i] = Float.float16ToFloat(b.getShort());
            }
        }
        return out;
    }

    private static String dtype(Context ctx) {
        String dtype = ctx.queryParam("dtype") == null ? "float32" : ctx.queryParam("dtype");
        if (!dtype.equals("float32") && !dtype.equals("float16")) {
            throw ApiException.badRequest("dtype must be float32 or float16, got " + ResourceId.shown(dtype), Map.of("field", "dtype"));
        }
        return dtype;
    }

    /** An optional boolean query parameter: absent or {@code false} is false, {@code true} true, anything else a 400. */
    private static boolean booleanParam(Context ctx, String name) {
        String v = ctx.queryParam(name);
        if (v == null || v.strip().equalsIgnoreCase("false")) {
            return false;
        }
        if (v.strip().equalsIgnoreCase("true")) {
            return true;
        }
        throw ApiException.badRequest("'" + name + "' must be true or false, got " + ResourceId.shown(v), Map.of("field", name));
    }

    private static int intParam(Context ctx, String name) {
        String v = ctx.queryParam(name);
        if (v == null) {
            throw ApiException.badRequest("query parameter '" + name + "' is required with a binary body", Map.of("field", name));
        }
        return parseInt(name, v);
    }

    private static int parseInt(String name, String v) {
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("'" + name + "' must be an integer, got " + ResourceId.shown(v),
                    Map.of("field", name));
        }
    }
}
