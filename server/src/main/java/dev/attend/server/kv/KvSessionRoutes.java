package dev.attend.server.kv;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.KvSessionStore;
import dev.attend.server.ApiException;
import dev.attend.server.ErrorCodes;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * HTTP endpoints of retrieval attention, in JSON (vectors as arrays of numbers):
 * <ul>
 *   <li>{@code POST /v1/kv/sessions} {@code {id?, layers, kvHeads, queryHeadsPerKvHead?, headDim, sinkTokens?,
 *       windowTokens?, topK?}}: creates a session (201);</li>
 *   <li>{@code GET /v1/kv/sessions/{id}}: its shape, memory and every KV head's index state;</li>
 *   <li>{@code DELETE /v1/kv/sessions/{id}} (204);</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/prefill} {@code {layer, kvHead, from, keys, values, queries}};</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/append} {@code {layer, kvHead, position, key, value}};</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/attend} {@code {layer, queries: [{queryHead, query}], budget?}}: the
 *       output, log-sum-exp and stats of each query.</li>
 * </ul>
 * Append and attend also take {@code application/octet-stream} bodies of little-endian float32 (see
 * {@link #binaryAppend} and {@link #binaryAttend}).
 * Bad input (wrong dimension, NaN, unknown session, layer or head, out-of-order position) is a 400 or
 * 404 in the server's error shape and changes nothing. Sessions are durable ({@link KvSessionStore} under
 * the given directory): a prefill or append is on disk before it is acknowledged, and sessions come back
 * when the server restarts.
 */
public final class KvSessionRoutes implements Consumer<RoutesConfig>, AutoCloseable {

    /** Sessions one server holds at once. */
    static final int MAX_SESSIONS = 64;

    private final ExecutorService builds = Executors.newFixedThreadPool(1, r -> {
        Thread t = new Thread(r, "attend-index-build");
        t.setDaemon(true);
        return t;
    });
    private final KvSessionStore sessions;

    /** Serves the sessions stored under {@code dir} (restoring those already there). */
    public KvSessionRoutes(Path dir, Scorer scorer) throws IOException {
        this.sessions = new KvSessionStore(dir, Objects.requireNonNull(scorer, "scorer"), builds);
    }

    /**
     * Publishes {@code attend_kv_sessions} (sessions held) and {@code attend_kv_session_bytes} (keys,
     * values and indexes of all of them) on {@code registry}.
     */
    public KvSessionRoutes bindMetrics(io.micrometer.core.instrument.MeterRegistry registry) {
        io.micrometer.core.instrument.Gauge.builder("attend.kv.sessions", sessions, KvSessionStore::size)
                .description("KV sessions held").register(registry);
        io.micrometer.core.instrument.Gauge.builder("attend.kv.session.bytes", sessions, KvSessionRoutes::bytes)
                .description("Bytes held by the KV sessions: keys, values, indexes").baseUnit("bytes").register(registry);
        return this;
    }

    private static double bytes(KvSessionStore store) {
        long total = 0;
        for (String id : store.ids()) {
            KvSession s = store.get(id);
            total += s == null ? 0 : s.memoryBytes();
        }
        return total;
    }

    /** Request bodies. Absent optional numbers are null. */
    record CreateRequest(String id, Integer layers, Integer kvHeads, Integer queryHeadsPerKvHead, Integer headDim,
                         Integer sinkTokens, Integer windowTokens, Integer topK, Float scale, String storage, String retriever) {
    }

    record PrefillRequest(Integer layer, Integer kvHead, Integer from, float[][] keys, float[][] values, float[][] queries) {
    }

    record AppendRequest(Integer layer, Integer kvHead, Integer position, float[] key, float[] value) {
    }

    record HeadQuery(Integer queryHead, float[] query) {
    }

    record AttendRequest(Integer layer, List<HeadQuery> queries, Integer budget) {
    }

    @Override
    public void accept(RoutesConfig routes) {
        routes.post("/v1/kv/sessions", this::create);
        routes.get("/v1/kv/sessions/{id}", ctx -> ctx.json(describe(session(ctx))));
        routes.delete("/v1/kv/sessions/{id}", ctx -> {
            if (!sessions.delete(ctx.pathParam("id"))) {
                throw ApiException.notFound("no KV session '" + ctx.pathParam("id") + "'");
            }
            ctx.status(204);
        });
        routes.post("/v1/kv/sessions/{id}/prefill", ctx -> {
            KvSession s = session(ctx);
            PrefillRequest r = ctx.bodyAsClass(PrefillRequest.class);
            checked(() -> s.prefill(required(r.layer(), "layer"), required(r.kvHead(), "kvHead"), required(r.from(), "from"),
                    required(r.keys(), "keys"), required(r.values(), "values"), r.queries() == null ? new float[0][] : r.queries()));
            ctx.json(Map.of("tokens", s.length(r.layer(), r.kvHead()), "index", s.indexState(r.layer(), r.kvHead())));
        });
        routes.post("/v1/kv/sessions/{id}/append", ctx -> {
            KvSession s = session(ctx);
            AppendRequest r = isBinary(ctx) ? binaryAppend(ctx, s) : ctx.bodyAsClass(AppendRequest.class);
            checked(() -> s.append(required(r.layer(), "layer"), required(r.kvHead(), "kvHead"), required(r.position(), "position"),
                    required(r.key(), "key"), required(r.value(), "value")));
            ctx.json(Map.of("tokens", s.length(r.layer(), r.kvHead())));
        });
        routes.post("/v1/kv/sessions/{id}/attend", ctx -> {
            KvSession s = session(ctx);
            AttendRequest r = isBinary(ctx) ? binaryAttend(ctx, s) : ctx.bodyAsClass(AttendRequest.class);
            int layer = required(r.layer(), "layer");
            List<HeadQuery> queries = required(r.queries(), "queries");
            if (queries.isEmpty()) {
                throw ApiException.badRequest("queries must not be empty", Map.of("field", "queries"));
            }
            List<Map<String, Object>> results = new ArrayList<>();
            for (HeadQuery q : queries) {
                int head = required(q.queryHead(), "queryHead");
                float[] vector = required(q.query(), "query");
                int budget = r.budget() != null ? r.budget() : defaultBudget(s, layer, head);
                AttendResult a = checked(() -> s.attend(layer, head, vector, budget));
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("queryHead", head);
                m.put("output", a.output());
                m.put("logSumExp", a.logSumExp());
                m.put("stats", a.stats());
                results.add(m);
            }
            ctx.json(Map.of("results", results));
        });
    }

    // ------------------------------------------------------------------ binary bodies

    /**
     * {@code Content-Type: application/octet-stream}: vectors as little-endian float32, the numbers that
     * say where they go as query parameters. JSON numbers cost more to parse than the attention itself.
     */
    private static boolean isBinary(Context ctx) {
        String type = ctx.contentType();
        return type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("application/octet-stream");
    }

    /** Append: {@code ?layer=&kvHead=&position=}, body = key then value (2 x headDim floats). */
    private static AppendRequest binaryAppend(Context ctx, KvSession s) {
        int d = s.config().headDim();
        float[] floats = floats(ctx.bodyAsBytes(), 2 * d, "an append body holds the key then the value: 2 x " + d + " float32");
        return new AppendRequest(intParam(ctx, "layer"), intParam(ctx, "kvHead"), intParam(ctx, "position"),
                java.util.Arrays.copyOfRange(floats, 0, d), java.util.Arrays.copyOfRange(floats, d, 2 * d));
    }

    /** Attend: {@code ?layer=&queryHead=&budget=} (budget optional), body = the query (headDim floats). */
    private static AttendRequest binaryAttend(Context ctx, KvSession s) {
        int d = s.config().headDim();
        float[] query = floats(ctx.bodyAsBytes(), d, "an attend body holds one query: " + d + " float32");
        String budget = ctx.queryParam("budget");
        return new AttendRequest(intParam(ctx, "layer"), List.of(new HeadQuery(intParam(ctx, "queryHead"), query)),
                budget == null ? null : parseInt("budget", budget));
    }

    private static float[] floats(byte[] body, int count, String expected) {
        if (body.length != 4 * count) {
            throw ApiException.badRequest("body has " + body.length + " bytes; " + expected + " (" + 4 * count + " bytes)",
                    Map.of("bytes", body.length, "expected", 4 * count));
        }
        float[] out = new float[count];
        java.nio.ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
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
            throw ApiException.badRequest("'" + name + "' must be an integer, got '" + v + "'", Map.of("field", name));
        }
    }

    private void create(Context ctx) {
        CreateRequest r = ctx.bodyAsClass(CreateRequest.class);
        String id = r.id() == null ? UUID.randomUUID().toString() : r.id();
        int headDim = required(r.headDim(), "headDim");
        KvSessionConfig d = checked(() -> KvSessionConfig.defaults(required(r.layers(), "layers"), required(r.kvHeads(), "kvHeads"),
                r.queryHeadsPerKvHead() == null ? 1 : r.queryHeadsPerKvHead(), headDim));
        KvSessionConfig config = checked(() -> new KvSessionConfig(d.layers(), d.kvHeads(), d.queryHeadsPerKvHead(), headDim,
                r.sinkTokens() == null ? d.sinkTokens() : r.sinkTokens(), r.windowTokens() == null ? d.windowTokens() : r.windowTokens(),
                r.topK() == null ? d.topK() : r.topK(), r.scale() == null ? d.scale() : r.scale(), AttentionAwareIndex.Params.defaults(),
                r.storage() == null ? Precision.FLOAT32 : storage(r.storage()),
                r.retriever() == null ? d.retriever() : KvSessionConfig.Retriever.of(r.retriever())));
        KvSession created;
        synchronized (sessions) {
            if (sessions.get(id) != null) {
                throw new ApiException(409, ErrorCodes.CONFLICT, "KV session '" + id + "' exists", Map.of("id", id));
            }
            if (sessions.size() >= MAX_SESSIONS) {
                throw new ApiException(429, ErrorCodes.TOO_MANY_REQUESTS, "this server holds " + MAX_SESSIONS
                        + " KV sessions already: delete one first");
            }
            created = checked(() -> sessions.create(id, config)); // the store checks the id
        }
        ctx.status(201).json(describe(created));
    }

    private Map<String, Object> describe(KvSession s) {
        KvSessionConfig c = s.config();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", s.id());
        m.put("layers", c.layers());
        m.put("kvHeads", c.kvHeads());
        m.put("queryHeadsPerKvHead", c.queryHeadsPerKvHead());
        m.put("headDim", c.headDim());
        m.put("sinkTokens", c.sinkTokens());
        m.put("windowTokens", c.windowTokens());
        m.put("topK", c.topK());
        m.put("scale", c.scale());
        m.put("storage", c.storage() == Precision.FLOAT16 ? "float16" : "float32");
        m.put("retriever", c.retriever().wireName());
        m.put("memoryBytes", s.memoryBytes());
        List<Map<String, Object>> heads = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            for (int h = 0; h < c.kvHeads(); h++) {
                Map<String, Object> head = new LinkedHashMap<>();
                head.put("layer", l);
                head.put("kvHead", h);
                head.put("index", s.indexState(l, h));
                heads.add(head);
            }
        }
        m.put("heads", heads);
        return m;
    }

    private static Precision storage(String name) {
        return switch (name) {
            case "float32" -> Precision.FLOAT32;
            case "float16" -> Precision.FLOAT16;
            default -> throw new IllegalArgumentException("unknown storage '" + name + "': use float32 or float16");
        };
    }

    /** Distance computations an attend may spend when the request does not say: 3% of the tokens, at least 4k. */
    private static int defaultBudget(KvSession s, int layer, int queryHead) {
        KvSessionConfig c = s.config();
        if (layer < 0 || layer >= c.layers() || queryHead < 0 || queryHead >= c.queryHeads()) {
            return 1; // the session names the bad argument
        }
        int tokens = s.length(layer, queryHead / c.queryHeadsPerKvHead());
        return Math.max(4 * c.topK(), (int) (0.03 * tokens));
    }

    private KvSession session(Context ctx) {
        KvSession s = sessions.get(ctx.pathParam("id"));
        if (s == null) {
            throw ApiException.notFound("no KV session '" + ctx.pathParam("id") + "'");
        }
        return s;
    }

    private static <T> T required(T value, String field) {
        if (value == null) {
            throw ApiException.badRequest("'" + field + "' is required", Map.of("field", field));
        }
        return value;
    }

    private static void checked(Runnable action) {
        checked(() -> {
            action.run();
            return null;
        });
    }

    /** Runs {@code action}; the session's IllegalArgumentException (bad input, nothing changed) becomes a 400. */
    private static <T> T checked(java.util.function.Supplier<T> action) {
        try {
            return action.get();
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), Map.of());
        }
    }

    @Override
    public void close() {
        sessions.close();
        builds.shutdownNow();
    }
}
