package dev.attend.server;

import dev.attend.index.store.DamageLog;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.util.JavalinException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Attend HTTP server: Javalin 7 on Jetty 12, with health, Prometheus metrics, one JSON error
 * shape, a request body limit, optional bearer-token authentication, a limit on requests handled at once (429
 * beyond it) and graceful shutdown. Feature modules add endpoints through
 * {@link Builder#routes(Consumer)}.
 *
 * <p>An instance serves once: {@link #start(ServerConfig)}, then {@link #stop()}.
 */
public final class AttendServer {

    private static final Logger LOG = LoggerFactory.getLogger(AttendServer.class);

    private final List<Consumer<RoutesConfig>> extraRoutes;
    private final ServerMetrics metrics;
    private final List<Path> watchedRoots;
    private final List<Supplier<List<HealthResponse.Problem>>> healthChecks;
    private final Map<String, Supplier<HealthResponse.Component>> components;

    private volatile Javalin app;
    private volatile ServerConfig config;
    private volatile long startedNanos;
    private boolean stopped;

    public AttendServer() {
        this(builder());
    }

    private AttendServer(Builder builder) {
        this.extraRoutes = List.copyOf(builder.routes);
        this.metrics = builder.metrics != null ? builder.metrics : new ServerMetrics();
        this.watchedRoots = List.copyOf(builder.watchedRoots);
        this.healthChecks = List.copyOf(builder.healthChecks);
        this.components = new LinkedHashMap<>(builder.components);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Prepares the data directory, binds and starts serving. Returns once the port is open.
     *
     * @throws ConfigException if the data directory cannot be created or written
     * @throws io.javalin.util.JavalinBindException if the port is taken
     */
    public synchronized AttendServer start(ServerConfig serverConfig) {
        if (app != null) {
            throw new IllegalStateException("AttendServer instances serve once; create a new one");
        }
        Path dataDir = DataDirectory.prepare(serverConfig.dataDir());
        this.config = serverConfig.withDataDir(dataDir);
        this.app = Javalin.create(this::configure);
        this.startedNanos = System.nanoTime();
        try {
            app.start();
        } catch (RuntimeException e) {
            stopped = true; // Javalin has already released the port; nothing left to stop but the metrics
            metrics.close();
            throw e;
        }
        LOG.info("Attend {} listening on {} (data dir {})", AttendVersion.get(), url(), dataDir);
        return this;
    }

    /**
     * Stops accepting connections, lets in-flight requests finish for up to the configured
     * shutdown timeout, then closes everything. Safe to call more than once and from any thread.
     */
    public void stop() {
        Javalin running;
        synchronized (this) {
            if (app == null || stopped) {
                return;
            }
            stopped = true;
            running = app;
        }
        LOG.info("Stopping: no new connections, waiting up to {} ms for in-flight requests",
                config.shutdownTimeout().toMillis());
        try {
            running.stop();
            LOG.info("Stopped");
        } catch (JavalinException e) {
            // Jetty reports a graceful-shutdown timeout as a failure after it has stopped anyway.
            LOG.warn("Requests still running after {} ms were cut off: {}",
                    config.shutdownTimeout().toMillis(), e.getMessage());
        } finally {
            metrics.close();
        }
    }

    /** The bound port; differs from the configured one when that was 0. */
    public int port() {
        requireStarted();
        return app.port();
    }

    /** Base URL clients should use, e.g. {@code http://127.0.0.1:8080}. */
    public String url() {
        requireStarted();
        String host = config.host();
        String shown = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
        return "http://" + shown + ":" + port();
    }

    /** The effective configuration, with the data directory made absolute. */
    public ServerConfig config() {
        requireStarted();
        return config;
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** True from the moment Jetty begins to stop; lets tests and long handlers see a shutdown coming. */
    public boolean isStopping() {
        Javalin running = app;
        return running != null && running.jettyServer().server().isStopping();
    }

    /** Every endpoint served, as {@code "METHOD /path"} (path parameters in braces): what {@code /openapi.json} must describe. */
    public List<String> routes() {
        requireStarted();
        return app.unsafe.internalRouter.allHttpHandlers().stream().map(p -> p.endpoint)
                .filter(e -> e.method.isHttpMethod()).map(e -> e.method.name() + " " + e.path).sorted().distinct().toList();
    }

    private void requireStarted() {
        if (app == null) {
            throw new IllegalStateException("AttendServer has not been started");
        }
    }

    private static final String STARTED_ATTRIBUTE = "attend.started-nanos";

    /** The web console's files: path served, file beside {@link OpenApi} under {@code console/}, content type. */
    static final String[][] CONSOLE_ASSETS = {
        {"/", "index.html", "text/html; charset=utf-8"},
        {"/console.js", "console.js", "text/javascript; charset=utf-8"},
        {"/console.css", "console.css", "text/css; charset=utf-8"},
    };

    private void configure(JavalinConfig cfg) {
        ServerConfig c = config;
        cfg.startup.showJavalinBanner = false;
        cfg.startup.showOldJavalinVersionWarning = false;
        cfg.jetty.host = c.host();
        cfg.jetty.port = c.port();
        cfg.jetty.modifyServer(server -> configureJetty(server, c.shutdownTimeout()));
        // Javalin's own limit, applied while ctx.body()/bodyAsClass() read; BodySizeLimit checks the header first.
        cfg.http.maxRequestSize = c.maxBodyBytes();
        cfg.http.prefer405over404 = true;
        cfg.jsonMapper(new StrictJsonMapper());
        // Bodies are read whole, within a deadline, before a handler takes a concurrency permit.
        cfg.jetty.modifyServletContextHandler(h -> h.addFilter(new FilterHolder(
                new BodyReadFilter(c.bodyReadTimeout(), c.maxBodyBytes(), metrics)), "/*",
                EnumSet.of(jakarta.servlet.DispatcherType.REQUEST)));
        ConcurrencyLimit limit = new ConcurrencyLimit(c.maxConcurrentRequests(), metrics);
        cfg.router.handlerWrapper(endpoint -> limit.wrap(endpoint, ErrorGuard.wrap(endpoint)));
        cfg.router.javaLangErrorHandler(ErrorGuard::lastResort);
        cfg.requestLogger.http(new HttpMetrics(metrics.registry()));

        RoutesConfig routes = cfg.routes;
        new ErrorMapping(c.maxBodyBytes()).register(routes);
        if (c.authToken() != null) {
            routes.before(new BearerAuth(c.authToken(), metrics)); // first: nothing else runs for a stranger
        }
        routes.before(new OriginCheck(c.allowedOrigins(), metrics));
        routes.before(new BodySizeLimit(c.maxBodyBytes()));
        routes.before(new ContentTypeCheck());
        // Server-Timing (W3C): the handler's time, so that a client can tell the server's share of a round trip.
        routes.before(ctx -> ctx.attribute(STARTED_ATTRIBUTE, System.nanoTime()));
        routes.after(ctx -> {
            Long started = ctx.attribute(STARTED_ATTRIBUTE);
            if (started != null) {
                ctx.header("Server-Timing", String.format(Locale.ROOT, "app;dur=%.3f", (System.nanoTime() - started) / 1e6));
            }
        });
        routes.get("/health", this::health);
        routes.get("/metrics", this::prometheus);
        routes.get("/openapi.json", ctx -> ctx.contentType("application/json").result(OpenApi.document(config.authToken() != null)));
        // The web console: static files (no data in them, so no token needed to load them; their API calls carry it).
        for (String[] asset : CONSOLE_ASSETS) {
            byte[] bytes = OpenApi.resource("console/" + asset[1]);
            routes.get(asset[0], ctx -> ctx.contentType(asset[2]).header("Cache-Control", "no-cache").result(bytes));
        }
        extraRoutes.forEach(r -> r.accept(routes));
    }

    /**
     * Graceful shutdown in Jetty 12 needs both a stop timeout (without it stop() is immediate) and
     * a GracefulHandler, which counts in-flight requests and answers new ones with 503 meanwhile.
     */
    private static void configureJetty(Server server, Duration shutdownTimeout) {
        server.setStopTimeout(shutdownTimeout.toMillis());
        server.insertHandler(new GracefulHandler());
        server.setErrorHandler(new JettyJsonErrorHandler());
    }

    private void health(Context ctx) {
        long uptime = Duration.ofNanos(System.nanoTime() - startedNanos).toSeconds();
        List<HealthResponse.Problem> problems = new ArrayList<>();
        List<Path> roots = new ArrayList<>();
        roots.add(config.dataDir().toAbsolutePath().normalize()); // first: its name is what a reason shows
        watchedRoots.forEach(r -> roots.add(r.toAbsolutePath().normalize()));
        for (DamageLog.Damage d : DamageLog.all()) {
            Path at = d.path().toAbsolutePath().normalize();
            if (roots.stream().noneMatch(at::startsWith)) {
                continue;
            }
            String reason = d.reason(); // /health needs no token: no absolute path in it
            for (int i = 0; i < roots.size(); i++) {
                reason = reason.replace(roots.get(i).toString(), i == 0 ? "<data-dir>" : "<" + roots.get(i).getFileName() + ">");
            }
            problems.add(new HealthResponse.Problem(d.store(), d.resource(), reason, d.at().toString(),
                    d.quarantinedTo() == null ? null : d.quarantinedTo().getFileName().toString()));
        }
        int damage = problems.size();
        for (Supplier<List<HealthResponse.Problem>> check : healthChecks) {
            problems.addAll(check.get());
        }
        Map<String, HealthResponse.Component> states = new LinkedHashMap<>();
        states.put("http", HealthResponse.Component.ok("serving"));
        states.put("storage", damage == 0 ? HealthResponse.Component.ok("no damage found")
                : HealthResponse.Component.degraded(damage + " damaged file(s) moved aside (see problems)"));
        components.forEach((name, state) -> states.put(name, state.get()));
        boolean degraded = !problems.isEmpty() || states.values().stream().anyMatch(c -> c.status().equals("degraded"));
        ctx.json(new HealthResponse(degraded ? "degraded" : "ok", AttendVersion.get(), uptime, states, problems));
    }

    private void prometheus(Context ctx) {
        String type = ServerMetrics.contentTypeFor(ctx.header("Accept"));
        ctx.contentType(type).result(metrics.scrape(type));
    }

    /** Options that only code (not configuration) can set: extra routes and a shared registry. */
    public static final class Builder {

        private final List<Consumer<RoutesConfig>> routes = new ArrayList<>();
        private final List<Path> watchedRoots = new ArrayList<>();
        private final List<Supplier<List<HealthResponse.Problem>>> healthChecks = new ArrayList<>();
        private final Map<String, Supplier<HealthResponse.Component>> components = new LinkedHashMap<>();
        private ServerMetrics metrics;

        private Builder() {
        }

        /**
         * Adds endpoints (and, if needed, exception handlers) to the server. Handlers signal
         * failures by throwing {@link ApiException}; anything else becomes a 500 {@code internal}.
         * Read bodies with {@code ctx.body()}, {@code ctx.bodyAsBytes()} or {@code ctx.bodyAsClass()}
         * so the size limit applies.
         */
        public Builder routes(Consumer<RoutesConfig> addRoutes) {
            routes.add(Objects.requireNonNull(addRoutes, "addRoutes"));
            return this;
        }

        /**
         * Damage that stores under {@code root} report (see {@code dev.attend.index.store.DamageLog}) makes
         * {@code /health} say {@code degraded} and list it; the data directory is always watched.
         */
        public Builder watch(Path root) {
            watchedRoots.add(Objects.requireNonNull(root, "root"));
            return this;
        }

        /** A component's own check for {@code /health}: the problems it has now (none: empty). */
        public Builder healthCheck(Supplier<List<HealthResponse.Problem>> check) {
            healthChecks.add(Objects.requireNonNull(check, "check"));
            return this;
        }

        /** A component whose state {@code /health} lists under {@code name}; a degraded one makes the whole degraded. */
        public Builder component(String name, Supplier<HealthResponse.Component> state) {
            components.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(state, "state"));
            return this;
        }

        /** Shares a registry with other components; by default the server makes its own. stop() closes it. */
        public Builder metrics(ServerMetrics serverMetrics) {
            this.metrics = Objects.requireNonNull(serverMetrics, "serverMetrics");
            return this;
        }

        public AttendServer build() {
            return new AttendServer(this);
        }
    }
}
