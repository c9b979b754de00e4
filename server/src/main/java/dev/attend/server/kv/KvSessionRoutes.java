package dev.attend.server.kv;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorChecks;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.index.store.ResourceId;
import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.HeadPolicies;
import dev.attend.retrieval.KvDurability;
import dev.attend.retrieval.KvLimitException;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionClosedException;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.KvSessionFencedException;
import dev.attend.retrieval.KvSessionLimits;
import dev.attend.retrieval.KvSessionStore;
import dev.attend.retrieval.KvSessionThreads;
import dev.attend.retrieval.KvSessions;
import dev.attend.server.ApiException;
import dev.attend.server.BodySizeLimit;
import dev.attend.server.ErrorCodes;
import dev.attend.server.Forwarder;
import dev.attend.server.HealthResponse;
import dev.attend.server.kv.KvRequests.AccuracyRequest;
import dev.attend.server.kv.KvRequests.AppendRequest;
import dev.attend.server.kv.KvRequests.AttendRequest;
import dev.attend.server.kv.KvRequests.CreateRequest;
import dev.attend.server.kv.KvRequests.DecodeLayerRequest;
import dev.attend.server.kv.KvRequests.DecodeRequest;
import dev.attend.server.kv.KvRequests.HeadQuery;
import dev.attend.server.kv.KvRequests.PrefillRequest;
import dev.attend.streaming.KvCluster;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Supplier;

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
 * with {@code ?dtype=float16}), the numbers that say where the vectors go as query parameters ({@link KvBinaryBodies}).
 * Bodies of append, attend and decode are limited to {@value #SMALL_BODY_BYTES} bytes (413 beyond); prefill takes up
 * to the server's body limit per call.
 * Bad input (wrong dimension, NaN, unknown session, layer or head, out-of-order position) is a 400 or
 * 404 in the server's error shape and changes nothing. Sessions are durable ({@link KvSessionStore} under
 * the given directory): a prefill or append is on disk before it is acknowledged, and sessions come back
 * when the server restarts. A session untouched for the time-to-live is deleted (files included: {@link KvSessionTtl}).
 */
public final class KvSessionRoutes implements Consumer<RoutesConfig>, AutoCloseable {

    /** Sessions one server holds at once. */
    static final int MAX_SESSIONS = 64;
    /** Largest body of append, attend and decode: a step of the largest head with every query head, in JSON. */
    static final int SMALL_BODY_BYTES = 1 << 20;

    private final KvSessionThreads threads;
    private final KvSessions sessions;
    private final KvCluster cluster; // or null: this server holds every session
    private final Forwarder forwarder; // with a cluster
    private final KvSessionTtl ttl;

    /**
     * Serves the sessions stored under {@code dir} (restoring those already there); a session untouched
     * for {@code ttl} is deleted ({@code Duration.ZERO}: never); writes are acknowledged with {@code durability}.
     */
    public KvSessionRoutes(Path dir, Scorer scorer, Duration ttl, KvDurability durability) throws IOException {
        this(dir, scorer, ttl, durability, KvSessionLimits.defaults());
    }

    /** The same, with the shapes, tokens and bytes sessions may hold ({@code limits}); indexes built on one thread. */
    public KvSessionRoutes(Path dir, Scorer scorer, Duration ttl, KvDurability durability, KvSessionLimits limits) throws IOException {
        this(dir, scorer, ttl, durability, limits, 1);
    }

    /**
     * The same, building indexes on {@code buildThreads} threads (a model-sized session builds hundreds of KV heads'
     * indexes after its prefill).
     */
    public KvSessionRoutes(Path dir, Scorer scorer, Duration ttl, KvDurability durability, KvSessionLimits limits, int buildThreads)
            throws IOException {
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("ttl must not be negative, got " + ttl);
        }
        if (buildThreads < 1) {
            throw new IllegalArgumentException("buildThreads must be >= 1, got " + buildThreads);
        }
        this.threads = new KvSessionThreads("attend-index", buildThreads);
        try {
            this.sessions = new KvSessionStore(dir, Objects.requireNonNull(scorer, "scorer"), threads.builds(), threads.indexer(), durability,
                    limits);
        } catch (IOException | RuntimeException e) {
            threads.close();
            throw e;
        }
        this.cluster = null;
        this.forwarder = null;
        this.ttl = new KvSessionTtl(sessions, ttl);
    }

    /**
     * Serves the sessions of the partitions this instance owns in a cluster ({@link KvCluster}: the KV topic their log,
     * Kafka's group membership their placement); a request about a session another instance owns is forwarded there
     * ({@link Forwarder}), and one whose partition is being restored is a 503 until it is served.
     */
    public KvSessionRoutes(KvCluster.Settings cluster, Scorer scorer, Duration ttl, KvSessionLimits limits, int buildThreads) {
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || buildThreads < 1) {
            throw new IllegalArgumentException("ttl must not be negative and buildThreads >= 1, got " + ttl + ", " + buildThreads);
        }
        this.threads = new KvSessionThreads("attend-index", buildThreads);
        try {
            this.cluster = new KvCluster(cluster, Objects.requireNonNull(scorer, "scorer"), threads.builds(), threads.indexer(), limits);
        } catch (RuntimeException e) {
            threads.close();
            throw e;
        }
        this.sessions = this.cluster;
        this.forwarder = new Forwarder(cluster.endpoint());
        this.ttl = new KvSessionTtl(sessions, ttl);
    }

    /**
     * For {@code /health}: where the sessions live; with a cluster, the KV topic's partitions this instance serves,
     * restores and keeps standby copies of (degraded when one could not be restored).
     */
    public HealthResponse.Component kvState() {
        if (cluster == null) {
            return HealthResponse.Component.ok("KV sessions in this server's data directory");
        }
        Map<KvCluster.PartitionState, List<Integer>> by = new EnumMap<>(KvCluster.PartitionState.class);
        cluster.partitions().forEach((p, st) -> by.computeIfAbsent(st, k -> new ArrayList<>()).add(p));
        String detail = "KV sessions shared through Kafka: partitions served " + by.getOrDefault(KvCluster.PartitionState.READY, List.of())
                + ", being restored " + by.getOrDefault(KvCluster.PartitionState.RESTORING, List.of())
                + ", failed " + by.getOrDefault(KvCluster.PartitionState.FAILED, List.of()) + ", standby copies " + cluster.standbyPartitions()
                + "; local snapshots: partitions restored from them " + cluster.snapshotRestores() + ", quarantined " + cluster.snapshotsQuarantined()
                + (cluster.snapshotsStopped().isEmpty() ? "" : ", stopped " + cluster.snapshotsStopped());
        return by.containsKey(KvCluster.PartitionState.FAILED) ? HealthResponse.Component.degraded(detail) : HealthResponse.Component.ok(detail);
    }

    private boolean servedHere(String id) {
        try {
            cluster.served(id);
            return true;
        } catch (KvCluster.NotServedHereException e) {
            return false;
        }
    }

    /** With a cluster, this instance's partitions of the KV topic and their states; empty without one. */
    public Map<Integer, KvCluster.PartitionState> clusterPartitions() {
        return cluster == null ? Map.of() : cluster.partitions();
    }

    /**
     * Problems to report on {@code /health} (a partition the cluster could not restore, a damaged local snapshot it
     * quarantined), empty when none.
     */
    public List<HealthResponse.Problem> problems() {
        if (cluster == null) {
            return List.of();
        }
        List<HealthResponse.Problem> out = new ArrayList<>();
        for (String p : cluster.problems()) {
            out.add(new HealthResponse.Problem("kv", "KV topic partition", p, Instant.now().toString(), null));
        }
        return out;
    }

    /**
     * With a cluster: sends a request about a session another instance owns there; true when it was. The id comes
     * from the path ({@code /v1/kv/sessions/{id}...}); a path without a valid one is left to its handler.
     */
    private boolean forwardedByPath(Context ctx) {
        String[] parts = ctx.path().split("/");
        if (cluster == null || parts.length < 5 || !ResourceId.isValid(parts[4])) {
            return false;
        }
        return forwarded(ctx, parts[4]);
    }

    private boolean forwarded(Context ctx, String id) {
        return cluster != null && forwarder.forwarded(ctx, () -> cluster.ownerOf(id), "the KV sessions", Map.of("id", id));
    }

    /**
     * Publishes {@code attend_kv_sessions}, {@code attend_kv_session_bytes}, {@code attend_kv_sessions_expired} and the
     * per-policy gauges ({@link KvSessionMetrics}) on {@code registry}.
     */
    public KvSessionRoutes bindMetrics(MeterRegistry registry) {
        KvSessionMetrics.bind(registry, sessions, ttl.expired());
        return this;
    }

    @Override
    public void accept(RoutesConfig routes) {
        for (String step : List.of("append", "attend", "decode", "decode-layer", "accuracy")) {
            routes.before("/v1/kv/sessions/{id}/" + step, new BodySizeLimit(SMALL_BODY_BYTES));
        }
        routes.before("/v1/kv/sessions/*", ctx -> {
            if (forwardedByPath(ctx)) {
                ctx.skipRemainingHandlers();
            }
        });
        routes.post("/v1/kv/sessions", this::create);
        routes.get("/v1/kv/sessions", ctx -> {
            List<Map<String, Object>> list = new ArrayList<>();
            for (String id : sessions.ids()) {
                KvSession s = sessions.get(id);
                if (s != null) { // not deleted in the meantime
                    list.add(KvSessionJson.summary(s));
                }
            }
            ctx.json(Map.of("sessions", list));
        });
        routes.get("/v1/kv/sessions/{id}", ctx -> ctx.json(KvSessionJson.describe(session(ctx))));
        routes.delete("/v1/kv/sessions/{id}", ctx -> {
            String id = sessionId(ctx.pathParam("id"));
            synchronized (sessions) {
                if (!checked(() -> sessions.delete(id))) {
                    if (cluster != null) {
                        checked(() -> {
                            cluster.served(id);
                        });
                    }
                    throw ApiException.notFound("no KV session " + ResourceId.shown(id));
                }
                ttl.forget(id);
            }
            ctx.status(204);
        });
        routes.post("/v1/kv/sessions/{id}/prefill", ctx -> {
            KvSession s = session(ctx);
            PrefillRequest r = KvBinaryBodies.isBinary(ctx) ? KvBinaryBodies.prefill(ctx, s) : ctx.bodyAsClass(PrefillRequest.class);
            checked(() -> s.prefill(ApiException.required(r.layer(), "layer"), ApiException.required(r.kvHead(), "kvHead"), ApiException.required(r.from(), "from"),
                    ApiException.required(r.keys(), "keys"), ApiException.required(r.values(), "values"), r.queries() == null ? new float[0][] : r.queries(),
                    r.queryHeads(), Boolean.TRUE.equals(r.more())));
            ctx.json(Map.of("tokens", s.length(r.layer(), r.kvHead()), "index", s.indexState(r.layer(), r.kvHead())));
        });
        routes.post("/v1/kv/sessions/{id}/append", ctx -> {
            KvSession s = session(ctx);
            AppendRequest r = KvBinaryBodies.isBinary(ctx) ? KvBinaryBodies.append(ctx, s) : ctx.bodyAsClass(AppendRequest.class);
            append(s, r);
            ctx.json(Map.of("tokens", s.length(r.layer(), r.kvHead())));
        });
        routes.post("/v1/kv/sessions/{id}/attend", ctx -> {
            KvSession s = session(ctx);
            AttendRequest r = KvBinaryBodies.isBinary(ctx) ? KvBinaryBodies.attend(ctx, s) : ctx.bodyAsClass(AttendRequest.class);
            ctx.json(Map.of("results", attend(s, ApiException.required(r.layer(), "layer"), r.queries(), r.budget())));
        });
        routes.post("/v1/kv/sessions/{id}/accuracy", ctx -> {
            KvSession s = session(ctx);
            AccuracyRequest r = ctx.bodyAsClass(AccuracyRequest.class);
            int layer = ApiException.required(r.layer(), "layer");
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
            DecodeRequest r = KvBinaryBodies.isBinary(ctx) ? KvBinaryBodies.decode(ctx, s) : ctx.bodyAsClass(DecodeRequest.class);
            int layer = ApiException.required(r.layer(), "layer");
            List<HeadQuery> queries = checkQueries(r.queries());
            // Every query head must belong to the appended KV head: checked before the append changes anything.
            int kvHead = ApiException.required(r.kvHead(), "kvHead");
            for (HeadQuery q : queries) {
                int head = ApiException.required(q.queryHead(), "queryHead");
                if (head / s.config().queryHeadsPerKvHead() != kvHead || head < 0) {
                    throw ApiException.badRequest("query head " + head + " does not read KV head " + kvHead,
                            Map.of("field", "queryHead"));
                }
                float[] vector = ApiException.required(q.query(), "query");
                checked(() -> VectorChecks.checkVector("query of head " + head, vector, s.config().headDim()));
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
     * {@code Accept: application/octet-stream} the answer is binary ({@link KvBinaryBodies#answer}).
     */
    private void decodeLayer(Context ctx) {
        KvSession s = session(ctx);
        DecodeLayerRequest r = KvBinaryBodies.isBinary(ctx) ? KvBinaryBodies.decodeLayer(ctx, s) : ctx.bodyAsClass(DecodeLayerRequest.class);
        int layer = ApiException.required(r.layer(), "layer");
        int position = ApiException.required(r.position(), "position");
        float[][] keys = ApiException.required(r.keys(), "keys");
        float[][] values = ApiException.required(r.values(), "values");
        float[][] queries = ApiException.required(r.queries(), "queries");
        if (r.budget() != null && r.budget() < 1) {
            throw ApiException.badRequest("budget must be >= 1, got " + r.budget(), Map.of("field", "budget"));
        }
        AttendResult[] answers = checked(() -> s.decodeLayer(layer, position, keys, values, queries,
                r.budget() == null ? KvSession.DEFAULT_BUDGET : r.budget()));
        if (KvBinaryBodies.acceptsBinary(ctx)) {
            KvBinaryBodies.answer(ctx, position + 1, answers);
            return;
        }
        List<Map<String, Object>> results = new ArrayList<>(answers.length);
        for (int q = 0; q < answers.length; q++) {
            results.add(KvSessionJson.result(q, answers[q]));
        }
        ctx.json(Map.of("tokens", position + 1, "results", results));
    }

    private Map<String, Object> accuracy(KvSession s, int layer, List<HeadQuery> queries, Integer budget, String source) {
        List<Map<String, Object>> results = new ArrayList<>();
        double error = 0;
        double maxError = 0;
        double mass = 0;
        double recall = 0;
        for (HeadQuery q : queries) {
            int head = ApiException.required(q.queryHead(), "queryHead");
            float[] vector = ApiException.required(q.query(), "query");
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

    private void append(KvSession s, AppendRequest r) {
        checked(() -> s.append(ApiException.required(r.layer(), "layer"), ApiException.required(r.kvHead(), "kvHead"), ApiException.required(r.position(), "position"),
                ApiException.required(r.key(), "key"), ApiException.required(r.value(), "value")));
    }

    private static List<HeadQuery> checkQueries(List<HeadQuery> queries) {
        ApiException.required(queries, "queries");
        if (queries.isEmpty()) {
            throw ApiException.badRequest("queries must not be empty", Map.of("field", "queries"));
        }
        return queries;
    }

    private List<Map<String, Object>> attend(KvSession s, int layer, List<HeadQuery> queries, Integer budget) {
        List<Map<String, Object>> results = new ArrayList<>();
        for (HeadQuery q : checkQueries(queries)) {
            int head = ApiException.required(q.queryHead(), "queryHead");
            float[] vector = ApiException.required(q.query(), "query");
            int b = budget != null ? budget : defaultBudget(s, layer, head);
            AttendResult a = checked(() -> s.attend(layer, head, vector, b));
            results.add(KvSessionJson.result(head, a));
        }
        return results;
    }

    private void create(Context ctx) {
        CreateRequest r = ctx.bodyAsClass(CreateRequest.class);
        String id = r.id() == null ? UUID.randomUUID().toString() : sessionId(r.id());
        if (forwarded(ctx, id)) {
            return;
        }
        int headDim = ApiException.required(r.headDim(), "headDim");
        KvSessionConfig d = checked(() -> KvSessionConfig.defaults(ApiException.required(r.layers(), "layers"), ApiException.required(r.kvHeads(), "kvHeads"),
                r.queryHeadsPerKvHead() == null ? 1 : r.queryHeadsPerKvHead(), headDim));
        KvSessionConfig config = checked(() -> new KvSessionConfig(d.layers(), d.kvHeads(), d.queryHeadsPerKvHead(), headDim,
                r.sinkTokens() == null ? d.sinkTokens() : r.sinkTokens(), r.windowTokens() == null ? d.windowTokens() : r.windowTokens(),
                r.topK() == null ? d.topK() : r.topK(), r.scale() == null ? d.scale() : r.scale(), AttentionAwareIndex.Params.defaults(),
                r.storage() == null ? Precision.FLOAT32 : storage(r.storage()),
                r.retriever() == null ? d.retriever() : KvSessionConfig.Retriever.of(r.retriever()),
                Boolean.TRUE.equals(r.indexPerQueryHead()),
                new HeadPolicies(r.policy() == null ? HeadPolicies.RETRIEVAL : r.policy(),
                        r.headPolicies())).checked());
        KvSession created;
        synchronized (sessions) {
            if (sessions.get(id) != null) {
                throw new ApiException(409, ErrorCodes.CONFLICT, "KV session " + ResourceId.shown(id) + " exists",
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
            ttl.touch(id);
        }
        ctx.status(201).json(KvSessionJson.describe(created));
    }

    private static Precision storage(String name) {
        return switch (name) {
            case "float32" -> Precision.FLOAT32;
            case "float16" -> Precision.FLOAT16;
            default -> throw new IllegalArgumentException("unknown storage " + ResourceId.shown(name) + ": use float32 or float16");
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
            return ResourceId.kvSession(id).value();
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), Map.of("field", "id"));
        }
    }

    private KvSession session(Context ctx) {
        String id = sessionId(ctx.pathParam("id"));
        KvSession s = sessions.get(id);
        if (s == null) {
            if (cluster != null) { // its partition being restored here: not missing, not yet served
                checked(() -> {
                    cluster.served(id);
                });
            }
            throw ApiException.notFound("no KV session " + ResourceId.shown(id));
        }
        String fenced = s.fenced();
        if (fenced != null) { // behind its log, maybe: its lengths would mislead a client reconciling a failed write
            throw new ApiException(503, "unavailable", "KV session " + ResourceId.shown(id) + " is being rebuilt from its log: " + fenced);
        }
        ttl.touch(id);
        return s;
    }

    private void checked(Runnable action) {
        checked(() -> {
            action.run();
            return null;
        });
    }

    /**
     * Runs {@code action}; the session's IllegalArgumentException (bad input, nothing changed) becomes a 400, a session
     * closed under the request a 404 (deleted, expired) or, in a cluster, a 503 when it was closed because it moved
     * or was rebuilt (retried, it is served), a limit a 413 (the session's) or a 507 (the server's, over all sessions).
     * I/O failures go on to the 507/503 mapping.
     */
    private <T> T checked(Supplier<T> action) {
        try {
            return action.get();
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), Map.of());
        } catch (KvSessionClosedException e) { // deleted or expired while this request ran; in a cluster, maybe moved
            if (cluster != null && (cluster.get(e.id()) != null || !servedHere(e.id()))) {
                throw new ApiException(503, "unavailable", "KV session " + ResourceId.shown(e.id()) + " moved or was rebuilt while this request"
                        + " ran; nothing changed, retry");
            }
            throw ApiException.notFound(e.getMessage());
        } catch (KvSessionFencedException | KvCluster.NotServedHereException e) { // rebuilt from its log, or moving: soon served
            throw new ApiException(503, "unavailable", e.getMessage());
        } catch (KvLimitException e) {
            boolean store = e.scope() == KvLimitException.Scope.STORE;
            throw new ApiException(store ? 507 : 413, store ? ErrorCodes.INSUFFICIENT_STORAGE : ErrorCodes.PAYLOAD_TOO_LARGE,
                    e.getMessage(), Map.of("limit", e.limitKey(), "value", e.limit()));
        }
    }

    @Override
    public void close() {
        ttl.close();
        sessions.close();
        threads.close();
    }
}
