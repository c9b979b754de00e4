package dev.attend.server.recsys;

import dev.attend.broker.EventStreaming;
import dev.attend.gpu.Scorer;
import dev.attend.index.store.ResourceId;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.OnlineLearner;
import dev.attend.recsys.serving.BehaviorSequence;
import dev.attend.recsys.serving.BehaviorSequenceStore;
import dev.attend.recsys.serving.BoundedSequence;
import dev.attend.recsys.serving.Recommender;
import dev.attend.recsys.serving.SequenceSource;
import dev.attend.server.ApiException;
import dev.attend.server.Forwarder;
import dev.attend.server.HealthResponse;
import dev.attend.server.ServerConfig;
import dev.attend.server.recsys.RecsysRequests.EventBody;
import dev.attend.server.recsys.RecsysRequests.EventsRequest;
import dev.attend.server.recsys.RecsysRequests.ExplainRequest;
import dev.attend.server.recsys.RecsysRequests.RecommendRequest;
import dev.attend.server.recsys.RecsysRequests.ScoreRequest;
import dev.attend.streaming.KafkaUnavailableException;
import dev.attend.streaming.OnlineTraining;
import dev.attend.streaming.StreamEvent;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP endpoints of long-sequence recommendation, in JSON with the source data's ids (numbers):
 * <ul>
 *   <li>{@code POST /v1/recsys/events} {@code {events: [{user, item, category, action?, time}]}}: appends behaviours to
 *       the users' stored sequences (all or nothing; on disk before the answer); {@code time} in seconds since the
 *       epoch, {@code action} defaults to {@code pv};</li>
 *   <li>{@code GET /v1/recsys/users/{user}?limit=N}: the user's latest N behaviours (default 100);</li>
 *   <li>{@code POST /v1/recsys/score} {@code {user, items, categories?}}: click probabilities, in request order;</li>
 *   <li>{@code POST /v1/recsys/recommend} {@code {user, n?, excludeSeen?}}: the best n items (default 10);</li>
 *   <li>{@code POST /v1/recsys/explain} {@code {user, item, category?}}: the score and the behaviours the item's
 *       search kept, with their attention weights;</li>
 *   <li>{@code GET /v1/recsys/model}: the served model's shape and file.</li>
 * </ul>
 * The model comes from a file written by {@code attend recsys train} ({@link ModelFiles}, with its item catalog);
 * without one, scoring answers 409 {@code no_model} while events are still stored. Unknown users have an empty
 * history and unknown items a zero embedding (cold start, see {@link Recommender}).
 */
public final class RecsysRoutes implements Consumer<RoutesConfig>, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RecsysRoutes.class);
    /** Largest event batch, candidate list and n of one request. */
    static final int MAX_EVENTS = 100_000;
    static final int MAX_CANDIDATES = 10_000;
    static final int MAX_RECOMMEND = 1_000;

    private final SequenceSource sequences;
    private final BehaviorSequenceStore store; // the local store, or null when events stream through Kafka
    private final EventStreaming streaming; // or null
    private final Forwarder forwarder; // or null: one instance holds every user
    private final Recommender recommender;
    private final Path modelFile;
    private OnlineTraining training; // or null: no online training
    private volatile Set<String> behaviors = Set.of(); // the actions accepted; empty: any

    /**
     * Stores behaviours under {@code dir} (no Kafka) and serves the model in {@code modelFile} (none when the file
     * does not exist and {@code required} is false).
     *
     * @throws IOException if the store cannot be opened, or a model file cannot be read (or is required but missing)
     */
    public RecsysRoutes(Path dir, Scorer scorer, Path modelFile, boolean required) throws IOException {
        this(BehaviorSequenceStore.open(dir.resolve("behaviors"), BehaviorSequenceStore.DEFAULT_MAX_PER_USER, true), null, scorer,
                modelFile, required);
    }

    /**
     * Reads behaviours from the event stream's sequence topology and sends events to Kafka; a request about a user
     * another instance holds is forwarded there. With a model and {@code onlineSteps > 0}, the model also learns
     * from the stream ({@link OnlineTraining}, group {@code attend-online-<instance>}, snapshots to
     * {@code modelFile}). Closes {@code streaming} when closed.
     */
    public RecsysRoutes(EventStreaming streaming, Scorer scorer, Path modelFile, boolean required, double onlineSteps, String instance)
            throws IOException {
        this(streaming, scorer, modelFile, required, onlineSteps, instance, ServerConfig.DEFAULT_ONLINE_NEW_ITEMS_PER_MINUTE,
                ServerConfig.DEFAULT_ONLINE_MAX_ITEMS);
    }

    /** The same, admitting at most {@code newItemsPerMinute} new items a minute and {@code maxItems} in all to online training. */
    public RecsysRoutes(EventStreaming streaming, Scorer scorer, Path modelFile, boolean required, double onlineSteps, String instance,
                        int newItemsPerMinute, int maxItems) throws IOException {
        this(null, streaming, scorer, modelFile, required);
        if (recommender != null && onlineSteps > 0) {
            try {
                training = new OnlineTraining(streaming.bootstrapServers(), streaming.topics(), streaming.sequences(), recommender.model(),
                        recommender.catalog(), OnlineTraining.Options.defaults(instance, modelFile)
                        .withLearner(OnlineLearner.Options.defaults().withStepFraction(onlineSteps))
                        .withNewItemLimit(newItemsPerMinute, Duration.ofMinutes(1)).withMaxItems(maxItems), streaming.clientProperties());
            } catch (RuntimeException e) {
                close();
                throw e;
            }
            try {
                // a new group starts at the topic's end: wait for its partitions, so that events accepted from now on are learned
                if (!training.awaitAssigned(Duration.ofSeconds(60))) {
                    LOG.warn("Online training has no partitions yet: events before it gets them are not learned");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new IOException("interrupted while starting online training", e);
            }
            LOG.info("Training the model online from the event stream ({} of events step; snapshots to {})", onlineSteps, modelFile);
        }
    }

    private RecsysRoutes(BehaviorSequenceStore store, EventStreaming streaming, Scorer scorer, Path modelFile, boolean required)
            throws IOException {
        this.store = store;
        this.streaming = streaming;
        this.sequences = store != null ? store : streaming.sequences();
        this.forwarder = streaming == null ? null : new Forwarder(streaming.sequences().endpoint());
        Recommender r = null;
        try {
            // A damaged model is moved aside, one this build cannot read left in place, both reported (/health says
            // degraded): serving without a model beats not serving.
            ModelFiles.Loaded loaded = Files.exists(modelFile) ? ModelFiles.loadReporting(modelFile, modelFile.toAbsolutePath().getParent())
                    : null;
            ModelFiles.Saved saved = loaded == null ? null : loaded.saved();
            if (saved != null) {
                if (saved.catalog() == null) {
                    throw new IOException(modelFile + " has no item catalog: save it with `attend recsys train`");
                }
                r = new Recommender(saved.model(), saved.catalog(), sequences, scorer, Recommender.Options.defaults());
                r.prepareCandidates();
                LOG.info("Serving recommendation model {} ({}, {} items)", modelFile, saved.model().config().kind(), saved.catalog().items());
            } else if (loaded != null) {
                LOG.error("The recommendation model {} {}: serving without a model until {}", modelFile, loaded.quarantined()
                        ? "is damaged and was moved aside" : "cannot be read by this build and is left in place",
                        loaded.quarantined() ? "one is trained" : "an operator replaces it");
            } else if (required) {
                throw new IOException("no recommendation model at " + modelFile);
            }
        } catch (IOException | RuntimeException e) {
            closeSequences();
            throw e;
        }
        this.recommender = r;
        this.modelFile = modelFile;
    }

    /** For {@code /health}: the event stream's broker failure, if any (the embedded broker stops on a fatal error). */
    public List<HealthResponse.Problem> problems() {
        if (streaming == null) {
            return List.of();
        }
        return streaming.brokerFailure().map(reason -> List.of(new HealthResponse.Problem("events", "kafka broker",
                reason.replaceAll("(/[^\\s:;,]+)+", "<path>"), Instant.now().toString(), null))).orElse(List.of());
    }

    /** For {@code /health}: where events go (off without Kafka), and whether the broker has failed. */
    public HealthResponse.Component kafkaState() {
        if (streaming == null) {
            return HealthResponse.Component.off("no Kafka: events kept in the local store");
        }
        String where = (streaming.embedded() ? "embedded broker at " : "cluster at ") + streaming.bootstrapServers();
        return streaming.brokerFailure().map(f -> HealthResponse.Component.degraded(where + ": stopped"))
                .orElse(HealthResponse.Component.ok(where));
    }

    /** For {@code /health}: the sequence topology's Kafka Streams state (running or rebalancing is ok). */
    public HealthResponse.Component topologyState() {
        if (streaming == null) {
            return HealthResponse.Component.off("no Kafka topology");
        }
        KafkaStreams.State state = streaming.sequences().state();
        return state == KafkaStreams.State.RUNNING || state == KafkaStreams.State.REBALANCING
                ? HealthResponse.Component.ok(state.name()) : HealthResponse.Component.degraded(state.name());
    }

    /** The local behaviour store (null when events stream through Kafka). */
    public BehaviorSequenceStore store() {
        return store;
    }

    /** Accepts only events whose action is one of {@code actions} (empty: any action). */
    public RecsysRoutes withBehaviors(Set<String> actions) {
        this.behaviors = Set.copyOf(actions);
        return this;
    }

    /** Publishes the meters of online training, the local sequence store and the event stream ({@link RecsysMetrics}). */
    public RecsysRoutes bindMetrics(MeterRegistry registry) {
        RecsysMetrics.bind(registry, training, store, streaming);
        return this;
    }

    @Override
    public void accept(RoutesConfig routes) {
        routes.post("/v1/recsys/events", this::events);
        routes.get("/v1/recsys/users/{user}", this::user);
        routes.post("/v1/recsys/score", this::score);
        routes.post("/v1/recsys/recommend", this::recommend);
        routes.post("/v1/recsys/explain", this::explain);
        routes.get("/v1/recsys/model", this::model);
    }

    private void events(Context ctx) throws IOException {
        EventsRequest r = ctx.bodyAsClass(EventsRequest.class);
        List<EventBody> in = ApiException.required(r.events(), "events");
        if (in.size() > MAX_EVENTS) {
            throw ApiException.badRequest("at most " + MAX_EVENTS + " events per request, got " + in.size(), Map.of("field", "events"));
        }
        List<BehaviorEvent> events = new ArrayList<>(in.size());
        for (int i = 0; i < in.size(); i++) {
            EventBody e = in.get(i);
            if (e == null) {
                throw ApiException.badRequest("events[" + i + "] is null", Map.of("field", "events[" + i + "]"));
            }
            events.add(new BehaviorEvent(ApiException.required(e.user(), "events[" + i + "].user"), ApiException.required(e.item(), "events[" + i + "].item"),
                    ApiException.required(e.category(), "events[" + i + "].category"), e.action() == null ? "pv" : e.action(),
                    ApiException.required(e.time(), "events[" + i + "].time")));
        }
        for (int i = 0; i < events.size(); i++) {
            try {
                BoundedSequence.check(events.get(i), i);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage(), Map.of("field", "events[" + i + "]"));
            }
            String refused = BoundedSequence.refusedAction(events.get(i).action(), behaviors);
            if (refused != null) {
                throw ApiException.badRequest("events[" + i + "]: " + refused, Map.of("field", "events[" + i + "].action"));
            }
        }
        if (streaming != null) {
            List<StreamEvent> out = new ArrayList<>(events.size());
            for (BehaviorEvent e : events) {
                out.add(new StreamEvent(e));
            }
            try {
                streaming.producer().send(out);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiException(503, "unavailable", "interrupted while sending the events to Kafka");
            } catch (KafkaUnavailableException e) {
                // the broker failed (e.g. its disk) or cannot be reached; reads go on from the local stores
                LOG.warn("Events refused: {}", e.getMessage());
                ctx.header("Retry-After", "10");
                throw new ApiException(503, "kafka_unavailable", "Kafka cannot take events now, so none of these was accepted; "
                        + "retry later (GET /health says why)", Map.of());
            }
            ctx.json(Map.of("accepted", events.size())); // applied (duplicates dropped) as the topology reads them
            return;
        }
        ctx.json(Map.of("accepted", events.size(), "added", store.append(events)));
    }

    private void user(Context ctx) {
        long user = pathLong(ctx, "user");
        int limit = queryInt(ctx, "limit", 100, 0, BehaviorSequenceStore.DEFAULT_MAX_PER_USER);
        if (forwarded(ctx, user)) {
            return;
        }
        BehaviorSequence s = read(() -> sequences.get(user));
        List<Map<String, Object>> out = new ArrayList<>();
        for (int j = Math.max(0, s.length() - limit); j < s.length(); j++) {
            out.add(RecsysJson.behavior(j, s.items()[j], s.categories()[j], s.actions()[j], s.times()[j], null));
        }
        ctx.json(Map.of("user", user, "length", s.length(), "behaviors", out));
    }

    private void score(Context ctx) {
        Recommender r = recommender();
        ScoreRequest req = ctx.bodyAsClass(ScoreRequest.class);
        long user = ApiException.required(req.user(), "user");
        if (forwarded(ctx, user)) {
            return;
        }
        long[] items = ApiException.required(req.items(), "items");
        if (items.length > MAX_CANDIDATES) {
            throw ApiException.badRequest("at most " + MAX_CANDIDATES + " items per request, got " + items.length, Map.of("field", "items"));
        }
        if (req.categories() != null && req.categories().length != items.length) {
            throw ApiException.badRequest("categories (" + req.categories().length + ") must match items (" + items.length + ")",
                    Map.of("field", "categories"));
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Recommender.Scored s : read(() -> r.score(user, items, req.categories()))) {
            out.add(RecsysJson.scored(s));
        }
        ctx.json(Map.of("user", user, "historyLength", Math.min(read(() -> sequences.length(user)), r.options().historyLength()),
                "scores", out));
    }

    private void recommend(Context ctx) {
        Recommender r = recommender();
        RecommendRequest req = ctx.bodyAsClass(RecommendRequest.class);
        long user = ApiException.required(req.user(), "user");
        if (forwarded(ctx, user)) {
            return;
        }
        int n = req.n() == null ? 10 : req.n();
        if (n < 1 || n > MAX_RECOMMEND) {
            throw ApiException.badRequest("n must be in 1.." + MAX_RECOMMEND + ", got " + n, Map.of("field", "n"));
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Recommender.Scored s : read(() -> r.recommend(user, n, !Boolean.FALSE.equals(req.excludeSeen())))) {
            out.add(RecsysJson.scored(s));
        }
        ctx.json(Map.of("user", user, "items", out));
    }

    private void explain(Context ctx) {
        Recommender r = recommender();
        ExplainRequest req = ctx.bodyAsClass(ExplainRequest.class);
        long user = ApiException.required(req.user(), "user");
        if (forwarded(ctx, user)) {
            return;
        }
        Recommender.Explanation e = read(() -> r.explain(user, ApiException.required(req.item(), "item"), req.category()));
        List<Map<String, Object>> kept = new ArrayList<>();
        for (Recommender.Behavior b : e.behaviors()) {
            kept.add(RecsysJson.behavior(b.position(), b.item(), b.category(), b.action(), b.time(), b.weight()));
        }
        Map<String, Object> out = RecsysJson.scored(e.scored());
        out.put("user", req.user());
        out.put("historyLength", e.historyLength());
        out.put("behaviors", kept);
        ctx.json(out);
    }

    private void model(Context ctx) {
        Recommender r = recommender();
        ModelConfig c = r.model().config();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("file", modelFile.getFileName().toString()); // its name: where it lives is the operator's business
        out.put("formatVersion", ModelFiles.FORMAT_VERSION);
        out.put("kind", c.kind().name());
        out.put("attentionDim", c.attentionDim());
        out.put("representationDim", c.representationDim());
        out.put("topK", c.topK());
        out.put("hidden", c.hidden());
        out.put("items", r.catalog().items());
        out.put("categories", r.catalog().categories());
        out.put("historyLength", r.options().historyLength());
        if (training != null) {
            OnlineTraining.Stats st = training.stats();
            Map<String, Object> online = new LinkedHashMap<>();
            online.put("stepFraction", training.learner().options().stepFraction());
            online.put("events", st.events());
            online.put("steps", st.steps());
            online.put("skipped", st.skipped());
            online.put("prequentialAuc", Double.isNaN(st.prequentialAuc()) ? null : st.prequentialAuc());
            online.put("snapshots", st.snapshots());
            online.put("running", training.failure() == null);
            out.put("online", online);
        }
        ctx.json(out);
    }

    /** Whether the request was about a user another instance holds, and was answered there ({@link Forwarder}). */
    private boolean forwarded(Context ctx, long user) {
        return forwarder != null && forwarder.forwarded(ctx, () -> streaming.sequences().ownerOf(user), "the users", Map.of("user", user));
    }

    private Recommender recommender() {
        if (recommender == null) {
            // The file's location is the operator's business: it is in the server's start-up log, not in answers.
            throw new ApiException(409, "no_model", "no recommendation model is loaded: train one with `attend recsys train` and "
                    + "restart the server (its log names the model file it looks for)", Map.of());
        }
        return recommender;
    }

    private static long pathLong(Context ctx, String name) {
        try {
            return Long.parseLong(ctx.pathParam(name));
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("'" + name + "' must be an integer id, got " + ResourceId.shown(ctx.pathParam(name)),
                    Map.of("field", name));
        }
    }

    private static int queryInt(Context ctx, String name, int fallback, int min, int max) {
        String v = ctx.queryParam(name);
        if (v == null) {
            return fallback;
        }
        try {
            int x = Integer.parseInt(v);
            if (x >= min && x <= max) {
                return x;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw ApiException.badRequest("'" + name + "' must be an integer in " + min + ".." + max + ", got "
                + ResourceId.shown(v), Map.of("field", name));
    }

    /** A read of the sequences; the topology's store moving between instances is a 503 to retry, not a 500. */
    private static <T> T read(Supplier<T> read) {
        try {
            return read.get();
        } catch (IllegalStateException e) {
            throw new ApiException(503, "unavailable", e.getMessage());
        }
    }

    private void closeSequences() throws IOException {
        if (store != null) {
            store.close();
        }
        if (streaming != null) {
            streaming.close();
        }
    }

    @Override
    public void close() throws IOException {
        if (training != null) {
            training.close(); // a last snapshot of what it learned
        }
        if (recommender != null) {
            recommender.close();
        }
        closeSequences();
    }
}
