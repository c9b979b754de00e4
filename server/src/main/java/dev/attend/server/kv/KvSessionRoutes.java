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
 *       windowTokens?, topK?, scale?, storage?, retriever?, indexPerQueryHead?, policy?, headPolicies?}}: creates a session
 *       (201); {@code policy} is every KV head's policy (retrieval by default; any {@code HeadPolicy} name, or auto) and
 *       {@code headPolicies} overrides it per head, {@code {"layer/kvHead": name}};</li>
 *   <li>{@code GET /v1/kv/sessions}: the sessions held, each with its shape, length and memory;</li>
 *   <li>{@code GET /v1/kv/sessions/{id}}: its shape, memory and every KV head's index state and policy (chosen policy,
 *       prefill measurements of an automatic choice, KV and index bytes, searches and reuses);</li>
 *   <li>{@code DELETE /v1/kv/sessions/{id}} (204);</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/prefill} {@code {layer, kvHead, from, keys, values, queries, queryHeads?, more?}}: with
 *       {@code more: true} further chunks follow and the index build waits for the last;</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/append} {@code {layer, kvHead, position, key, value}};</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/attend} {@code {layer, queries: [{queryHead, query}], budget?}}: the
 *       output, log-sum-exp and stats of each query;</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/decode}: one decode step of a KV head in one round trip, append then
 *       attend: {@code {layer, kvHead, position, key, value, queries: [{queryHead, query}], budget?}};</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/decode-layer}: one decode step of a whole layer in one round trip, every KV
 *       head's append then every query head's answer, checked whole before anything changes:
 *       {@code {layer, position, keys: [kvHeads vectors], values: [kvHeads vectors], queries: [queryHeads vectors], budget?}}
 *       (queries in query-head order); with {@code Accept: application/octet-stream} the answer is binary;</li>
 *   <li>{@code POST /v1/kv/sessions/{id}/accuracy} {@code {layer, queries?, budget?}}: each answer against full
 *       attention (relative output error, attention mass kept, recall of the true top-k keys), for the queries
 *       given or, without them, the layer's latest {@value KvSession#RECENT_QUERIES} decode queries.</li>
 * </ul>
 * Every write and attend also takes an {@code application/octet-stream} body of little-endian float32 (or float16
 * with {@code ?dtype=float16}), the
 * numbers that say where the vectors go as query parameters ({@link #binaryPrefill}, {@link #binaryAppend},
 * {@link #binaryAttend}, {@link #binaryDecode}, {@link #binaryDecodeLayer}). Bodies of append, attend and decode are limited to
 * {@value #SMALL_BODY_BYTES} bytes (413 beyond); prefill takes up to the server's body limit per call.
 * Bad input (wrong dimension, NaN, unknown session, layer or head, out-of-order position) is a 400 or
 * 404 in the server's error shape and changes nothing. Sessions are durable ({@link KvSessionStore} under
 * the given directory): a prefill or append is on disk before it is acknowledged, and sessions come back
 * when the server restarts. A session untouched for the time-to-live is deleted (files included).
 */
public final class KvSessionRoutes implements Consumer<RoutesConfig>, AutoCloseable {

    /** Sessions one server holds at once. */
    static final int MAX_SESSIONS = 64;
    /** Largest body of append, attend and decode: a step of the largest head with every query head, in JSON. */
    static final int SMALL_BODY_BYTES = 1 << 20;

    private final ExecutorService builds = Executors.newFixedThreadPool(1, r -> {
        Thread t = new Thread(r, "attend-index-build");
        t.setDaemon(true);
        return t;
    });
    /** Inserts decoded keys into built indexes: its own thread, so that a long build elsewhere does not hold them up. */
    private final ExecutorService indexer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "attend-index-insert");
        t.setDaemon(true);
        return t;
    });
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(KvSessionRoutes.class);
    private final KvSessionStore sessions;
    private final java.time.Duration ttl;
    /** When each session was last used (System.nanoTime), for the time-to-live. */
    private final Map<String, Long> lastUsed = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.ScheduledExecutorService sweeper;
    private final java.util.concurrent.atomic.AtomicLong expired = new java.util.concurrent.atomic.AtomicLong();

    /**
     * Serves the sessions stored under {@code dir} (restoring those already there); a session untouched
     * for {@code ttl} is deleted ({@code Duration.ZERO}: never); writes are acknowledged with {@code durability}.
     */
    public KvSessionRoutes(Path dir, Scorer scorer, java.time.Duration ttl, dev.attend.retrieval.KvDurability durability)
            throws IOException {
        this(dir, scorer, ttl, durability, dev.attend.retrieval.KvSessionLimits.defaults());
    }

    /** The same, with the shapes, tokens and bytes sessions may hold ({@code limits}). */
    public KvSessionRoutes(Path dir, Scorer scorer, java.time.Duration ttl, dev.attend.retrieval.KvDurability durability,
                           dev.attend.retrieval.KvSessionLimits limits) throws IOException {
        this.ttl = Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("ttl must not be negative, got " + ttl);
        }
        this.sessions = new KvSessionStore(dir, Objects.requireNonNull(scorer, "scorer"), builds, indexer, durability, limits);
        long now = System.nanoTime();
        for (String id : sessions.ids()) {
            lastUsed.put(id, now); // a restart counts as a use: the clock starts again
        }
        if (ttl.isZero()) {
            sweeper = null;
        } else {
            sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "attend-kv-session-ttl");
                t.setDaemon(true);
                return t;
            });
            long period = Math.clamp(ttl.toMillis() / 10, 100, 60_000);
            sweeper.scheduleWithFixedDelay(this::expireIdle, period, period, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    /** Deletes the sessions idle for longer than the time-to-live. */
    void expireIdle() {
        long now = System.nanoTime();
        for (String id : sessions.ids()) {
            synchronized (sessions) {
                Long used = lastUsed.get(id);
                try {
                    if (used != null && now - used > ttl.toNanos() && sessions.delete(id)) {
                        lastUsed.remove(id);
                        expired.incrementAndGet();
                    }
                } catch (RuntimeException e) { // a failed delete leaves the session served; the next sweep tries again
                    LOG.warn("Could not expire KV session {}: {}", dev.attend.index.store.ResourceId.shown(id), e.toString());
                }
            }
        }
    }

    /**
     * Publishes {@code attend_kv_sessions} (sessions held), {@code attend_kv_session_bytes} (keys, values and indexes of
     * all of them), and per head policy ({@link #POLICY_FAMILIES}, tag {@code policy}) the KV heads following it
     * ({@code attend_kv_policy_heads}) and their bytes ({@code attend_kv_policy_bytes}, tag {@code kind} kv or index)
     * on {@code registry}.
     */
    public KvSessionRoutes bindMetrics(io.micrometer.core.instrument.MeterRegistry registry) {
        io.micrometer.core.instrument.Gauge.builder("attend.kv.sessions", sessions, KvSessionStore::size)
                .description("KV sessions held").register(registry);
        io.micrometer.core.instrument.Gauge.builder("attend.kv.session.bytes", sessions, KvSessionRoutes::bytes)
                .description("Bytes held by the KV sessions: keys, values, indexes").baseUnit("bytes").register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("attend.kv.sessions.expired", expired,
                java.util.concurrent.atomic.AtomicLong::get).description("KV sessions deleted after their time-to-live")
                .register(registry);
        for (String family : POLICY_FAMILIES) {
            io.micrometer.core.instrument.Gauge.builder("attend.kv.policy.heads", sessions, st -> policyTotals(st, family)[0])
                    .tag("policy", family).description("KV heads following a policy (undecided: auto, before the prefill ends)")
                    .register(registry);
            for (String kind : List.of("kv", "index")) {
                int at = kind.equals("kv") ? 1 : 2;
                io.micrometer.core.instrument.Gauge.builder("attend.kv.policy.bytes", sessions, st -> policyTotals(st, family)[at])
                        .tag("policy", family).tag("kind", kind).baseUnit("bytes")
                        .description("Bytes of keys and values (kv) or of indexes, blocks and clusters (index) of the KV heads following a policy")
                        .register(registry);
            }
        }
        return this;
    }

    /** The policies the metrics tell apart: a policy's name without its parameters. */
    static final List<String> POLICY_FAMILIES = List.of("full", "streaming", "retrieval", "recycled", "recycled+tail", "block",
            "retrieval+tail", "undecided");

    /** {heads, KV bytes, index bytes} of the heads of every session following {@code family}. */
    private static double[] policyTotals(KvSessionStore store, String family) {
        double[] totals = new double[3];
        for (String id : store.ids()) {
            KvSession s = store.get(id);
            if (s == null) {
                continue;
            }
            for (int l = 0; l < s.config().layers(); l++) {
                for (int h = 0; h < s.config().kvHeads(); h++) {
                    KvSession.PolicyState p = s.policyState(l, h);
                    String name = p.policy() == null ? "undecided" : p.policy().split(":")[0];
                    if (name.equals(family)) {
                        totals[0]++;
                        totals[1] += p.kvBytes();
                        totals[2] += p.indexBytes();
                    }
                }
            }
        }
        return totals;
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
                         Integer sinkTokens, Integer windowTokens, Integer topK, Float scale, String storage, String retriever,
                         Boolean indexPerQueryHead, String policy, Map<String, String> headPolicies) {
    }

    record PrefillRequest(Integer layer, Integer kvHead, Integer from, float[][] keys, float[][] values, float[][] queries,
                          int[] queryHeads, Boolean more) {
    }

    record AppendRequest(Integer layer, Integer kvHead, Integer position, float[] key, float[] value) {
    }

    record HeadQuery(Integer queryHead, float[] query) {
    }

    record AttendRequest(Integer layer, List<HeadQuery> queries, Integer budget) {
    }

    record AccuracyRequest(Integer layer, List<HeadQuery> queries, Integer budget) {
    }

    record DecodeRequest(Integer layer, Integer kvHead, Integer position, float[] key, float[] value, List<HeadQuery> queries,
                         Integer budget) {
    }

    /** A whole layer's decode step: a key and a value per KV head, a query per query head (in query-head order). */
    record DecodeLayerRequest(Integer layer, Integer position, float[][] keys, float[][] values, float[][] queries, Integer budget) {
    }

    @Override
    public void accept(RoutesConfig routes) {
        for (String step : List.of("append", "attend", "decode", "decode-layer", "accuracy")) {
            routes.before("/v1/kv/sessions/{id}/" + step, new dev.attend.server.BodySizeLimit(SMALL_BODY_BYTES));
        }
        routes.post("/v1/kv/sessions", this::create);
        routes.get("/v1/kv/sessions", ctx -> {
            List<Map<String, Object>> list = new ArrayList<>();
            for (String id : sessions.ids()) {
                KvSession s = sessions.get(id);
                if (s != null) { // not deleted in the meantime
                    list.add(summary(s));
                }
            }
            ctx.json(Map.of("sessions", list));
        });
        routes.get("/v1/kv/sessions/{id}", ctx -> ctx.json(describe(session(ctx))));
        routes.delete("/v1/kv/sessions/{id}", ctx -> {
            String id = sessionId(ctx.pathParam("id"));
            synchronized (sessions) {
                if (!sessions.delete(id)) {
                    throw ApiException.notFound("no KV session " + dev.attend.index.store.ResourceId.shown(id));
                }
                lastUsed.remove(id);
            }
            ctx.status(204);
        });
        routes.post("/v1/kv/sessions/{id}/prefill", ctx -> {
            KvSession s = session(ctx);
            PrefillRequest r = isBinary(ctx) ? binaryPrefill(ctx, s) : ctx.bodyAsClass(PrefillRequest.class);
            checked(() -> s.prefill(required(r.layer(), "layer"), required(r.kvHead(), "kvHead"), required(r.from(), "from"),
                    required(r.keys(), "keys"), required(r.values(), "values"), r.queries() == null ? new float[0][] : r.queries(),
                    r.queryHeads(), Boolean.TRUE.equals(r.more())));
            ctx.json(Map.of("tokens", s.length(r.layer(), r.kvHead()), "index", s.indexState(r.layer(), r.kvHead())));
        });
        routes.post("/v1/kv/sessions/{id}/append", ctx -> {
            KvSession s = session(ctx);
            AppendRequest r = isBinary(ctx) ? binaryAppend(ctx, s) : ctx.bodyAsClass(AppendRequest.class);
            append(s, r);
            ctx.json(Map.of("tokens", s.length(r.layer(), r.kvHead())));
        });
        routes.post("/v1/kv/sessions/{id}/attend", ctx -> {
            KvSession s = session(ctx);
            AttendRequest r = isBinary(ctx) ? binaryAttend(ctx, s) : ctx.bodyAsClass(AttendRequest.class);
            ctx.json(Map.of("results", attend(s, required(r.layer(), "layer"), r.queries(), r.budget())));
        });
        routes.post("/v1/kv/sessions/{id}/accuracy", ctx -> {
            KvSession s = session(ctx);
            AccuracyRequest r = ctx.bodyAsClass(AccuracyRequest.class);
            int layer = required(r.layer(), "layer");
            if (r.budget() != null && r.budget() < 1) {
                throw ApiException.badRequest("budget must be >= 1, got " + r.budget(), Map.of("field", "budget"));
            }
            List<HeadQuery> queries = r.queries();
            String source = "request";
            if (queries == null) {
                source = "recent";
                queries = new ArrayList<>();
                for (KvSession.HeadQuery q : checked(() -> s.recentQueries(layer))) {
                    queries.add(new HeadQuery(q.queryHead(), q.query()));
                }
                if (queries.isEmpty()) {
                    throw ApiException.badRequest("no decode query has been answered on layer " + layer
                            + " since the server started: pass 'queries'", Map.of("field", "queries"));
                }
            }
            ctx.json(accuracy(s, layer, checkQueries(queries), r.budget(), source));
        });
        routes.post("/v1/kv/sessions/{id}/decode", ctx -> {
            KvSession s = session(ctx);
            DecodeRequest r = isBinary(ctx) ? binaryDecode(ctx, s) : ctx.bodyAsClass(DecodeRequest.class);
            int layer = required(r.layer(), "layer");
            List<HeadQuery> queries = checkQueries(r.queries());
            // Every query head must belong to the appended KV head: checked before the append changes anything.
            int kvHead = required(r.kvHead(), "kvHead");
            for (HeadQuery q : queries) {
                int head = required(q.queryHead(), "queryHead");
                if (head / s.config().queryHeadsPerKvHead() != kvHead || head < 0) {
                    throw ApiException.badRequest("query head " + head + " does not read KV head " + kvHead,
                            Map.of("field", "queryHead"));
                }
                float[] vector = required(q.query(), "query");
                checked(() -> dev.attend.gpu.VectorChecks.checkVector("query of head " + head, vector, s.config().headDim()));
            }
            if (r.budget() != null && r.budget() < 1) {
                throw ApiException.badRequest("budget must be >= 1, got " + r.budget(), Map.of("field", "budget"));
            }
            append(s, new AppendRequest(layer, kvHead, r.position(), r.key(), r.value()));
            ctx.json(Map.of("tokens", s.length(layer, kvHead), "results", attend(s, layer, queries, r.budget())));
        });
        routes.post("/v1/kv/sessions/{id}/decode-layer", this::decodeLayer);
    }

    /**
     * One decode step of a whole layer in one round trip ({@link KvSession#decodeLayer}): every KV head's append at
     * {@code position}, then every query head's answer; checked whole before anything changes. With
     * {@code Accept: application/octet-stream} the answer is binary ({@link #binaryAnswer}).
     */
    private void decodeLayer(Context ctx) {
        KvSession s = session(ctx);
        DecodeLayerRequest r = isBinary(ctx) ? binaryDecodeLayer(ctx, s) : ctx.bodyAsClass(DecodeLayerRequest.class);
        int layer = required(r.layer(), "layer");
        int position = required(r.position(), "position");
        float[][] keys = required(r.keys(), "keys");
        float[][] values = required(r.values(), "values");
        float[][] queries = required(r.queries(), "queries");
        if (r.budget() != null && r.budget() < 1) {
            throw ApiException.badRequest("budget must be >= 1, got " + r.budget(), Map.of("field", "budget"));
        }
        AttendResult[] answers = checked(() -> s.decodeLayer(layer, position, keys, values, queries,
                r.budget() == null ? KvSession.DEFAULT_BUDGET : r.budget()));
        if (acceptsBinary(ctx)) {
            binaryAnswer(ctx, position + 1, answers);
            return;
        }
        List<Map<String, Object>> results = new ArrayList<>(answers.length);
        for (int q = 0; q < answers.length; q++) {
            results.add(result(q, answers[q]));
        }
        ctx.json(Map.of("tokens", position + 1, "results", results));
    }

    private static Map<String, Object> accuracy(KvSession s, int layer, List<HeadQuery> queries, Integer budget, String source) {
        List<Map<String, Object>> results = new ArrayList<>();
        double error = 0;
        double maxError = 0;
        double mass = 0;
        double recall = 0;
        for (HeadQuery q : queries) {
            int head = required(q.queryHead(), "queryHead");
            float[] vector = required(q.query(), "query");
            int b = budget != null ? budget : defaultBudget(s, layer, head);
            KvSession.AccuracyCheck a;
            try {
                a = checked(() -> s.checkAccuracy(layer, head, vector, b));
            } catch (IllegalStateException e) { // a streaming head has nothing to compare with
                throw new ApiException(409, ErrorCodes.CONFLICT, e.getMessage(), Map.of("queryHead", head));
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("queryHead", head);
            m.put("relativeError", a.relativeError());
            m.put("massKept", a.massKept());
            m.put("keyRecall", a.keyRecall());
            m.put("answer", a.answer());
            m.put("exactMicros", a.exactMicros());
            results.add(m);
            error += a.relativeError();
            maxError = Math.max(maxError, a.relativeError());
            mass += a.massKept();
            recall += a.keyRecall();
        }
        int n = results.size();
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("queries", n);
        summary.put("meanRelativeError", error / n);
        summary.put("maxRelativeError", maxError);
        summary.put("meanMassKept", mass / n);
        summary.put("meanKeyRecall", recall / n);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("layer", layer);
        out.put("source", source);
        out.put("summary", summary);
        out.put("results", results);
        return out;
    }

    private static void append(KvSession s, AppendRequest r) {
        checked(() -> s.append(required(r.layer(), "layer"), required(r.kvHead(), "kvHead"), required(r.position(), "position"),
                required(r.key(), "key"), required(r.value(), "value")));
    }

    private static List<HeadQuery> checkQueries(List<HeadQuery> queries) {
        required(queries, "queries");
        if (queries.isEmpty()) {
            throw ApiException.badRequest("queries must not be empty", Map.of("field", "queries"));
        }
        return queries;
    }

    private static List<Map<String, Object>> attend(KvSession s, int layer, List<HeadQuery> queries, Integer budget) {
        List<Map<String, Object>> results = new ArrayList<>();
        for (HeadQuery q : checkQueries(queries)) {
            int head = required(q.queryHead(), "queryHead");
            float[] vector = required(q.query(), "query");
            int b = budget != null ? budget : defaultBudget(s, layer, head);
            AttendResult a = checked(() -> s.attend(layer, head, vector, b));
            results.add(result(head, a));
        }
        return results;
    }

    /** One answer in JSON: {@code queryHead}, {@code output}, {@code logSumExp}, {@code stats}. */
    private static Map<String, Object> result(int queryHead, AttendResult a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("queryHead", queryHead);
        m.put("output", a.output());
        m.put("logSumExp", a.logSumExp());
        m.put("stats", a.stats());
        return m;
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

    /**
     * Prefill: {@code ?layer=&kvHead=&from=&tokens=T&queries=Q&queryHead=&more=}, body = T keys, then T values,
     * then Q queries ((2T + Q) x headDim floats); {@code queryHead} (optional) attributes the queries to one query
     * head; {@code more=true} when further chunks follow (the index build waits).
     */
    private static PrefillRequest binaryPrefill(Context ctx, KvSession s) {
        int d = s.config().headDim();
        int tokens = intParam(ctx, "tokens");
        int queries = intParam(ctx, "queries");
        String queryHead = ctx.queryParam("queryHead");
        if (tokens < 0 || queries < 0) {
            throw ApiException.badRequest("tokens and queries must be >= 0", Map.of());
        }
        long count = (2L * tokens + queries) * d;
        if (count > Integer.MAX_VALUE / 4) {
            throw new ApiException(413, ErrorCodes.PAYLOAD_TOO_LARGE, "a prefill of " + tokens + " tokens and " + queries
                    + " queries is too large for one call: split it", Map.of());
        }
        float[] floats = floats(ctx, (int) count, "a prefill body holds " + tokens + " keys, " + tokens
                + " values and " + queries + " queries of " + d + " numbers");
        return new PrefillRequest(intParam(ctx, "layer"), intParam(ctx, "kvHead"), intParam(ctx, "from"),
                rows(floats, 0, tokens, d), rows(floats, tokens, tokens, d), rows(floats, 2 * tokens, queries, d),
                queryHead == null ? null : filled(queries, parseInt("queryHead", queryHead)),
                Boolean.parseBoolean(ctx.queryParam("more")));
    }

    private static int[] filled(int length, int value) {
        int[] out = new int[length];
        java.util.Arrays.fill(out, value);
        return out;
    }

    private static float[][] rows(float[] floats, int first, int count, int d) {
        float[][] out = new float[count][];
        for (int i = 0; i < count; i++) {
            out[i] = java.util.Arrays.copyOfRange(floats, (first + i) * d, (first + i + 1) * d);
        }
        return out;
    }

    /**
     * Decode: {@code ?layer=&kvHead=&position=&queryHeads=H1,H2...&budget=} (budget optional), body = key, value,
     * then one query per listed query head ((2 + heads) x headDim floats).
     */
    private static DecodeRequest binaryDecode(Context ctx, KvSession s) {
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
            queries.add(new HeadQuery(parseInt("queryHeads", heads[i]), java.util.Arrays.copyOfRange(floats, (2 + i) * d, (3 + i) * d)));
        }
        String budget = ctx.queryParam("budget");
        return new DecodeRequest(intParam(ctx, "layer"), intParam(ctx, "kvHead"), intParam(ctx, "position"),
                java.util.Arrays.copyOfRange(floats, 0, d), java.util.Arrays.copyOfRange(floats, d, 2 * d), queries,
                budget == null ? null : parseInt("budget", budget));
    }

    /**
     * Layer decode: {@code ?layer=&position=&budget=} (budget optional), body = one key per KV head, one value per KV head,
     * then one query per query head in query-head order ((2 kvHeads + queryHeads) x headDim floats).
     */
    private static DecodeLayerRequest binaryDecodeLayer(Context ctx, KvSession s) {
        int d = s.config().headDim();
        int kv = s.config().kvHeads();
        int q = s.config().queryHeads();
        long count = (2L * kv + q) * d;
        if (count > SMALL_BODY_BYTES) { // more numbers than the body limit lets through
            throw new ApiException(413, ErrorCodes.PAYLOAD_TOO_LARGE, "a layer decode of this session (" + kv + " KV heads, " + q
                    + " query heads of " + d + " numbers) is larger than " + SMALL_BODY_BYTES + " bytes", Map.of());
        }
        float[] floats = floats(ctx, (int) count, "a layer decode body holds " + kv + " keys, " + kv + " values and " + q
                + " queries of " + d + " numbers");
        String budget = ctx.queryParam("budget");
        return new DecodeLayerRequest(intParam(ctx, "layer"), intParam(ctx, "position"), rows(floats, 0, kv, d),
                rows(floats, kv, kv, d), rows(floats, 2 * kv, q, d), budget == null ? null : parseInt("budget", budget));
    }

    /** Whether the client asks for a binary answer ({@code Accept: application/octet-stream}). */
    private static boolean acceptsBinary(Context ctx) {
        String accept = ctx.header("Accept");
        return accept != null && accept.toLowerCase(java.util.Locale.ROOT).contains("application/octet-stream");
    }

    /**
     * A binary answer of {@code answers} (one per query head, in order): every output as little-endian float32
     * (queryHeads x headDim), then every log-sum-exp as little-endian float64 (queryHeads); the tokens each head holds in
     * {@code Attend-Tokens} and the keys each answer scanned in {@code Attend-Keys-Scanned} (comma-separated, in order).
     */
    private static void binaryAnswer(Context ctx, int tokens, AttendResult[] answers) {
        int d = answers.length == 0 ? 0 : answers[0].output().length;
        byte[] body = new byte[answers.length * (4 * d + 8)];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        java.nio.FloatBuffer outputs = b.asFloatBuffer();
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
    private static AppendRequest binaryAppend(Context ctx, KvSession s) {
        int d = s.config().headDim();
        float[] floats = floats(ctx, 2 * d, "an append body holds the key then the value: 2 x " + d + " numbers");
        return new AppendRequest(intParam(ctx, "layer"), intParam(ctx, "kvHead"), intParam(ctx, "position"),
                java.util.Arrays.copyOfRange(floats, 0, d), java.util.Arrays.copyOfRange(floats, d, 2 * d));
    }

    /** Attend: {@code ?layer=&queryHead=&budget=} (budget optional), body = the query (headDim floats). */
    private static AttendRequest binaryAttend(Context ctx, KvSession s) {
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
        String dtype = ctx.queryParam("dtype") == null ? "float32" : ctx.queryParam("dtype");
        int width = switch (dtype) {
            case "float32" -> 4;
            case "float16" -> 2;
            default -> throw ApiException.badRequest("dtype must be float32 or float16, got " + dev.attend.index.store.ResourceId.shown(dtype), Map.of("field", "dtype"));
        };
        byte[] body = ctx.bodyAsBytes();
        if (body.length != (long) width * count) {
            throw ApiException.badRequest("body has " + body.length + " bytes; " + expected + " as " + dtype + " ("
                    + (long) width * count + " bytes)", Map.of("bytes", body.length, "expected", (long) width * count));
        }
        float[] out = new float[count];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (width == 4) {
            b.asFloatBuffer().get(out);
        } else {
            for (int i = 0; i < count; i++) {
                out[i] = Float.float16ToFloat(b.getShort());
            }
        }
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
            throw ApiException.badRequest("'" + name + "' must be an integer, got " + dev.attend.index.store.ResourceId.shown(v),
                    Map.of("field", name));
        }
    }

    private void create(Context ctx) {
        CreateRequest r = ctx.bodyAsClass(CreateRequest.class);
        String id = r.id() == null ? UUID.randomUUID().toString() : sessionId(r.id());
        int headDim = required(r.headDim(), "headDim");
        KvSessionConfig d = checked(() -> KvSessionConfig.defaults(required(r.layers(), "layers"), required(r.kvHeads(), "kvHeads"),
                r.queryHeadsPerKvHead() == null ? 1 : r.queryHeadsPerKvHead(), headDim));
        KvSessionConfig config = checked(() -> new KvSessionConfig(d.layers(), d.kvHeads(), d.queryHeadsPerKvHead(), headDim,
                r.sinkTokens() == null ? d.sinkTokens() : r.sinkTokens(), r.windowTokens() == null ? d.windowTokens() : r.windowTokens(),
                r.topK() == null ? d.topK() : r.topK(), r.scale() == null ? d.scale() : r.scale(), AttentionAwareIndex.Params.defaults(),
                r.storage() == null ? Precision.FLOAT32 : storage(r.storage()),
                r.retriever() == null ? d.retriever() : KvSessionConfig.Retriever.of(r.retriever()),
                Boolean.TRUE.equals(r.indexPerQueryHead()),
                new dev.attend.retrieval.HeadPolicies(r.policy() == null ? dev.attend.retrieval.HeadPolicies.RETRIEVAL : r.policy(),
                        r.headPolicies())).checked());
        KvSession created;
        synchronized (sessions) {
            if (sessions.get(id) != null) {
                throw new ApiException(409, ErrorCodes.CONFLICT, "KV session " + dev.attend.index.store.ResourceId.shown(id) + " exists",
                        Map.of("id", id));
            }
            if (sessions.size() >= MAX_SESSIONS) {
                throw new ApiException(429, ErrorCodes.TOO_MANY_REQUESTS, "this server holds " + MAX_SESSIONS
                        + " KV sessions already: delete one first");
            }
            try {
                created = checked(() -> sessions.create(id, config)); // the store checks the id and the limits
            } catch (IllegalStateException e) { // its folder holds a session that could not be loaded, or old files
                throw new ApiException(409, ErrorCodes.CONFLICT, e.getMessage(), Map.of("id", id));
            }
            lastUsed.put(id, System.nanoTime());
        }
        ctx.status(201).json(describe(created));
    }

    /** A session in the list: its shape, its longest KV head and its memory. */
    private static Map<String, Object> summary(KvSession s) {
        KvSessionConfig c = s.config();
        int tokens = 0;
        for (int l = 0; l < c.layers(); l++) {
            for (int h = 0; h < c.kvHeads(); h++) {
                tokens = Math.max(tokens, s.length(l, h));
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", s.id());
        m.put("layers", c.layers());
        m.put("kvHeads", c.kvHeads());
        m.put("queryHeads", c.queryHeads());
        m.put("headDim", c.headDim());
        m.put("tokens", tokens);
        m.put("memoryBytes", s.memoryBytes());
        return m;
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
        m.put("indexPerQueryHead", c.indexPerQueryHead());
        m.put("policy", c.policies().defaultPolicy());
        m.put("headPolicies", c.policies().perHead());
        m.put("memoryBytes", s.memoryBytes());
        List<Map<String, Object>> heads = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            for (int h = 0; h < c.kvHeads(); h++) {
                Map<String, Object> head = new LinkedHashMap<>();
                head.put("layer", l);
                head.put("kvHead", h);
                head.put("index", s.indexState(l, h));
                head.put("policy", s.policyState(l, h));
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
            default -> throw new IllegalArgumentException("unknown storage " + dev.attend.index.store.ResourceId.shown(name) + ": use float32 or float16");
        };
    }

    /** The budget of an attend whose request does not give one: {@link KvSessionConfig#defaultBudget}. */
    static int defaultBudget(KvSession s, int layer, int queryHead) {
        KvSessionConfig c = s.config();
        if (layer < 0 || layer >= c.layers() || queryHead < 0 || queryHead >= c.queryHeads()) {
            return 1; // the session names the bad argument
        }
        return KvSessionConfig.defaultBudget(s.length(layer, queryHead / c.queryHeadsPerKvHead()), c.topK());
    }

    /** A session id from a request, validated as the store will (so never a path of its own), else a 400. */
    private static String sessionId(String id) {
        try {
            return dev.attend.index.store.ResourceId.kvSession(id).value();
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), Map.of("field", "id"));
        }
    }

    private KvSession session(Context ctx) {
        String id = sessionId(ctx.pathParam("id"));
        KvSession s = sessions.get(id);
        if (s == null) {
            throw ApiException.notFound("no KV session " + dev.attend.index.store.ResourceId.shown(id));
        }
        lastUsed.put(id, System.nanoTime());
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

    /**
     * Runs {@code action}; the session's IllegalArgumentException (bad input, nothing changed) becomes a 400, a session
     * closed under the request a 404, a limit a 413 (the session's) or a 507 (the server's, over all sessions). I/O
     * failures go on to the 507/503 mapping.
     */
    private static <T> T checked(java.util.function.Supplier<T> action) {
        try {
            return action.get();
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), Map.of());
        } catch (dev.attend.retrieval.KvSessionClosedException e) { // deleted or expired while this request ran
            throw ApiException.notFound(e.getMessage());
        } catch (dev.attend.retrieval.KvLimitException e) {
            boolean store = e.scope() == dev.attend.retrieval.KvLimitException.Scope.STORE;
            throw new ApiException(store ? 507 : 413, store ? ErrorCodes.INSUFFICIENT_STORAGE : ErrorCodes.PAYLOAD_TOO_LARGE,
                    e.getMessage(), Map.of("limit", e.limitKey(), "value", e.limit()));
        }
    }

    @Override
    public void close() {
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
        sessions.close();
        builds.shutdownNow();
        indexer.shutdownNow();
    }
}
