package dev.attend.server;

import dev.attend.retrieval.KvDurability;
import dev.attend.retrieval.KvSessionLimits;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Settings of one server instance. Build it with {@link ServerConfigLoader} (file, environment,
 * flags) or from {@link #defaults()} in code and tests.
 *
 * @param host            interface to bind; the default keeps a fresh install off the network
 * @param port            TCP port, 0 picks a free one (see {@link AttendServer#port()})
 * @param dataDir         where the engine keeps its files; created on start
 * @param maxBodyBytes    largest accepted request body; larger ones get a 413
 * @param shutdownTimeout how long stop() waits for in-flight requests before cutting them off
 * @param kvSessionTtl    a KV session untouched this long is deleted; zero keeps sessions until deleted
 * @param kvDurability    how far an acknowledged KV write survives: a machine crash (fsync) or a process crash
 * @param recsysModel     the recommendation model file to serve; null: {@code recsys/model.bin} under the data
 *                        directory when it exists (where {@code attend recsys train} writes by default)
 * @param kafkaBootstrap  where users' events stream: {@link #KAFKA_EMBEDDED} (a broker in this process, its log
 *                        under the data directory), {@link #KAFKA_NONE} (no Kafka: behaviours in a local store),
 *                        or the bootstrap servers of a cluster ({@code host:port,...})
 * @param recsysOnlineSteps the share of streamed events that train the served recommendation model online (each
 *                        a step; 0: no online training); snapshots go to the model file
 * @param authToken       when set, every request but {@code GET /health} must carry {@code Authorization: Bearer
 *                        <token>} (compared in constant time); null: no authentication (fit for the loopback default)
 * @param maxConcurrentRequests requests handled at once; more get a 429 with {@code Retry-After} instead of queueing
 * @param bodyReadTimeout the longest a client may take to send a request body (408 after it); bodies are read
 *                        before a request takes one of the concurrency permits, so slow senders cannot hold them
 * @param allowedOrigins  the browser origins (e.g. {@code https://app.example.com}) allowed besides the server's
 *                        own; a request from any other {@code Origin} gets a 403
 * @param kvLimits        the shapes, tokens and bytes a KV session (and all of them) may hold
 * @param recsysOnlineNewItemsPerMinute new items online training admits per minute (an event on a new item beyond
 *                        it is not learned: junk ids cannot grow the model without bound)
 * @param recsysOnlineMaxItems the most items the online model may hold
 * @param kafkaClient     a Kafka cluster's client settings (TLS, SASL, ...) from the config file's {@code attend.kafka.*}
 *                        keys, passed to every Kafka client (see {@code dev.attend.streaming.KafkaClientProperties})
 * @param kafka           the deployment's topics, application id and advertised address ({@link KafkaDeployment})
 * @param behaviors       the actions an event may carry (e.g. pv, cart, fav, buy); empty: any action (1-64 bytes)
 */
public record ServerConfig(String host, int port, Path dataDir, long maxBodyBytes, Duration shutdownTimeout,
                           Duration kvSessionTtl, KvDurability kvDurability, Path recsysModel, String kafkaBootstrap,
                           double recsysOnlineSteps, String authToken, int maxConcurrentRequests, Duration bodyReadTimeout,
                           List<String> allowedOrigins, KvSessionLimits kvLimits, int recsysOnlineNewItemsPerMinute,
                           int recsysOnlineMaxItems, Map<String, String> kafkaClient, KafkaDeployment kafka, Set<String> behaviors) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080;
    public static final Path DEFAULT_DATA_DIR = Path.of("data");
    public static final long DEFAULT_MAX_BODY_BYTES = 8L * 1024 * 1024;
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_KV_SESSION_TTL = Duration.ofHours(24);
    public static final String KAFKA_EMBEDDED = "embedded";
    public static final String KAFKA_NONE = "none";
    public static final int DEFAULT_MAX_CONCURRENT_REQUESTS = 64;
    /** Shorter bearer tokens are refused: a guessable token protects nothing. */
    public static final int MIN_AUTH_TOKEN_CHARS = 16;
    public static final Duration DEFAULT_BODY_READ_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_ONLINE_NEW_ITEMS_PER_MINUTE = 10_000;
    public static final int DEFAULT_ONLINE_MAX_ITEMS = 1_000_000;

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
        Objects.requireNonNull(kvSessionTtl, "kvSessionTtl");
        Objects.requireNonNull(kvDurability, "kvDurability");
        Objects.requireNonNull(kafkaBootstrap, "kafkaBootstrap");
        kafkaClient = kafkaClient == null ? Map.of() : Map.copyOf(kafkaClient);
        kafka = kafka == null ? KafkaDeployment.defaults() : kafka;
        behaviors = behaviors == null ? Set.of() : Collections.unmodifiableSortedSet(new TreeSet<>(behaviors));
        if (kafkaBootstrap.isBlank()) {
            throw new IllegalArgumentException("kafkaBootstrap must not be blank: embedded, none or host:port");
        }
        if (!(recsysOnlineSteps >= 0 && recsysOnlineSteps <= 1)) {
            throw new IllegalArgumentException("recsysOnlineSteps must be in [0, 1], got " + recsysOnlineSteps);
        }
        if (authToken != null && (authToken.length() < MIN_AUTH_TOKEN_CHARS || !authToken.chars().allMatch(ch -> ch > 32 && ch < 127))) {
            throw new IllegalArgumentException("the auth token must be at least " + MIN_AUTH_TOKEN_CHARS
                    + " printable ASCII characters without spaces");
        }
        if (maxConcurrentRequests < 1) {
            throw new IllegalArgumentException("maxConcurrentRequests must be at least 1, got " + maxConcurrentRequests);
        }
        if (kvSessionTtl.isNegative()) {
            throw new IllegalArgumentException("kvSessionTtl must not be negative, got " + kvSessionTtl);
        }
        if (host.isBlank()) {
            throw new IllegalArgumentException("host must not be blank");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in 0..65535, got " + port);
        }
        if (maxBodyBytes <= 0) {
            throw new IllegalArgumentException("maxBodyBytes must be positive, got " + maxBodyBytes);
        }
        Objects.requireNonNull(bodyReadTimeout, "bodyReadTimeout");
        if (bodyReadTimeout.isNegative() || bodyReadTimeout.isZero()) {
            throw new IllegalArgumentException("bodyReadTimeout must be positive, got " + bodyReadTimeout);
        }
        allowedOrigins = List.copyOf(Objects.requireNonNull(allowedOrigins, "allowedOrigins"));
        Objects.requireNonNull(kvLimits, "kvLimits");
        if (recsysOnlineNewItemsPerMinute < 0 || recsysOnlineMaxItems < 1) {
            throw new IllegalArgumentException("recsysOnlineNewItemsPerMinute must be >= 0 and recsysOnlineMaxItems >= 1, got "
                    + recsysOnlineNewItemsPerMinute + " and " + recsysOnlineMaxItems);
        }
        if (shutdownTimeout.isNegative()) {
            throw new IllegalArgumentException("shutdownTimeout must not be negative, got " + shutdownTimeout);
        }
    }

    public static ServerConfig defaults() {
        return new ServerConfig(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_DATA_DIR, DEFAULT_MAX_BODY_BYTES,
                DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_KV_SESSION_TTL, KvDurability.FSYNC, null, KAFKA_EMBEDDED, 1.0, null,
                DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_BODY_READ_TIMEOUT, List.of(), KvSessionLimits.defaults(),
                DEFAULT_ONLINE_NEW_ITEMS_PER_MINUTE, DEFAULT_ONLINE_MAX_ITEMS, Map.of(), KafkaDeployment.defaults(), Set.of());
    }

    public ServerConfig withHost(String newHost) {
        return new ServerConfig(newHost, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withPort(int newPort) {
        return new ServerConfig(host, newPort, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withDataDir(Path newDataDir) {
        return new ServerConfig(host, port, newDataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withMaxBodyBytes(long newMaxBodyBytes) {
        return new ServerConfig(host, port, dataDir, newMaxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withShutdownTimeout(Duration newShutdownTimeout) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, newShutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withKvSessionTtl(Duration newTtl) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, newTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withKvDurability(KvDurability newDurability) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, newDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withRecsysModel(Path newModel) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                newModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withKafkaBootstrap(String newBootstrap) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, newBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withRecsysOnlineSteps(double share) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, share, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withAuthToken(String token) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, token, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withMaxConcurrentRequests(int n) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, n, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withBodyReadTimeout(Duration timeout) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, timeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withAllowedOrigins(List<String> origins) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, origins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withKvLimits(KvSessionLimits limits) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, limits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withRecsysOnlineItemLimits(int newPerMinute, int maxItems) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                newPerMinute, maxItems, kafkaClient, kafka, behaviors);
    }

    public ServerConfig withKafkaClient(Map<String, String> client) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, client, kafka, behaviors);
    }

    public ServerConfig withKafka(KafkaDeployment deployment) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, deployment, behaviors);
    }

    public ServerConfig withBehaviors(Set<String> actions) {
        return new ServerConfig(host, port, dataDir, maxBodyBytes, shutdownTimeout, kvSessionTtl, kvDurability,
                recsysModel, kafkaBootstrap, recsysOnlineSteps, authToken, maxConcurrentRequests, bodyReadTimeout, allowedOrigins, kvLimits,
                recsysOnlineNewItemsPerMinute, recsysOnlineMaxItems, kafkaClient, kafka, actions);
    }

    /** The token shown nowhere: a config printed or logged must not leak it. */
    @Override
    public String toString() {
        return "ServerConfig[host=" + host + ", port=" + port + ", dataDir=" + dataDir + ", maxBodyBytes=" + maxBodyBytes + ", shutdownTimeout="
                + shutdownTimeout + ", kvSessionTtl=" + kvSessionTtl + ", kvDurability=" + kvDurability + ", recsysModel=" + recsysModel
                + ", kafkaBootstrap=" + kafkaBootstrap + ", recsysOnlineSteps=" + recsysOnlineSteps + ", authToken="
                + (authToken == null ? "none" : "(set)") + ", maxConcurrentRequests=" + maxConcurrentRequests
                + ", bodyReadTimeout=" + bodyReadTimeout + ", allowedOrigins=" + allowedOrigins + ", kvLimits=" + kvLimits
                + ", recsysOnlineNewItemsPerMinute=" + recsysOnlineNewItemsPerMinute + ", recsysOnlineMaxItems=" + recsysOnlineMaxItems
                + ", kafkaClient=" + kafkaClient.keySet() + " (values not shown: they may hold passwords), kafka=" + kafka + ", behaviors=" + behaviors + "]";
    }

    /** Whether users' events stream through Kafka (embedded or a cluster) rather than into a local store. */
    public boolean streamsEvents() {
        return !KAFKA_NONE.equals(kafkaBootstrap);
    }

    /** The recommendation model file to serve: the configured one, else the data directory's default location. */
    public Path recsysModelFile() {
        return recsysModel != null ? recsysModel : dataDir.resolve("recsys").resolve("model.bin");
    }
}
