package dev.attend.server.cli;

import dev.attend.broker.EventStreaming;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.search.MiniLmEmbedder;
import dev.attend.server.AttendServer;
import dev.attend.server.ConfigException;
import dev.attend.server.ConfigKey;
import dev.attend.server.KafkaDeployment;
import dev.attend.server.ServerConfig;
import dev.attend.server.ServerConfigLoader;
import dev.attend.server.ServerMetrics;
import dev.attend.server.kv.KvSessionRoutes;
import dev.attend.server.recsys.RecsysRoutes;
import dev.attend.server.search.SearchRoutes;
import dev.attend.streaming.EventTopics;
import dev.attend.streaming.KafkaClientProperties;
import dev.attend.streaming.KafkaUnavailableException;
import dev.attend.streaming.KvCluster;
import dev.attend.streaming.KvTopicLog;
import dev.attend.streaming.SequenceStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Properties;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.streams.state.HostInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code attend serve}: start the HTTP server and keep it up until SIGTERM or SIGINT. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        versionProvider = AttendCli.Version.class,
        description = {
                "Start the HTTP server and block until SIGTERM or SIGINT.",
                "Settings come from defaults < config file < ATTEND_* environment variables < these flags."
        })
public final class ServeCommand implements Callable<Integer> {

    // Numbers are taken as text so that a bad flag gets the same message as a bad file or env value.
    @Option(names = "--host", paramLabel = "HOST", description = "Interface to bind (default 127.0.0.1).")
    String host;

    @Option(names = "--port", paramLabel = "PORT", description = "TCP port, 0 for any free one (default 8080).")
    String port;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Data directory, created if missing (default ./data).")
    String dataDir;

    @Option(names = "--max-body-bytes", paramLabel = "BYTES", description = "Largest request body (default 8 MiB).")
    String maxBodyBytes;

    @Option(names = "--shutdown-timeout-ms", paramLabel = "MS",
            description = "How long in-flight requests may run on during shutdown (default 10000).")
    String shutdownTimeoutMs;

    @Option(names = "--kv-session-ttl-s", paramLabel = "SECONDS",
            description = "Delete a KV session untouched this long; 0 keeps sessions until deleted (default 86400).")
    String kvSessionTtlS;

    @Option(names = "--kv-durability", paramLabel = "fsync|process",
            description = "KV writes acknowledged after an fsync (survive a machine crash; default) or after the write to the OS "
                    + "(survive a crash of the process, not of the machine; no disk flush per step).")
    String kvDurability;

    @Option(names = "--recsys-model", paramLabel = "FILE",
            description = "Recommendation model to serve (default: recsys/model.bin under the data directory, if present).")
    String recsysModel;

    @Option(names = "--kafka-bootstrap", paramLabel = "embedded|none|HOST:PORT,...",
            description = "Where users' events stream: a Kafka broker inside this process, its log under the data directory "
                    + "(embedded, the default), an existing cluster (its bootstrap servers), or no Kafka (none: behaviours in a local "
                    + "store).")
    String kafkaBootstrap;

    @Option(names = "--recsys-online-steps", paramLabel = "SHARE",
            description = "The share of streamed events that train the served recommendation model online, one step each "
                    + "(default 1; 0: no online training). Snapshots of the model go to its file; needs Kafka.")
    String recsysOnlineSteps;

    @Option(names = "--max-concurrent-requests", paramLabel = "N",
            description = "Requests handled at once; more get a 429 with Retry-After (default 64).")
    String maxConcurrentRequests;

    @Option(names = "--body-read-timeout-ms", paramLabel = "MS",
            description = "The longest a client may take to send a request body; 408 after it (default 10000).")
    String bodyReadTimeoutMs;

    @Option(names = "--allowed-origins", paramLabel = "ORIGIN,...",
            description = "Browser origins allowed to call the API besides the server's own (e.g. https://app.example.com); "
                    + "requests from other origins get a 403 (default: none).")
    String allowedOrigins;

    @Option(names = "--auth-token-file", paramLabel = "FILE",
            description = "Require 'Authorization: Bearer <token>' on every request but GET /health, the token read from FILE "
                    + "(its first line; at least 16 characters). Or set ATTEND_AUTH_TOKEN, or attend.auth-token in the config "
                    + "file. A token on the command line would show in the process list, so there is no flag for it.")
    Path authTokenFile;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Properties file with attend.* keys (default: $" + ServerConfigLoader.CONFIG_FILE_ENV + ", else none).")
    Path configFile;

    @Spec
    CommandSpec spec;

    private final Map<String, String> env;
    private final StopSignal stopSignal;

    public ServeCommand() {
        this(System.getenv(), new JvmShutdownSignal());
    }

    public ServeCommand(Map<String, String> env, StopSignal stopSignal) {
        this.env = env;
        this.stopSignal = stopSignal;
    }

    @Override
    public Integer call() throws InterruptedException {
        ServerConfig config = ServerConfigLoader.load(configFile, env, flags());
        boolean kvCluster = config.kafka().kvTopic() != null;
        if (kvCluster && !config.streamsEvents()) {
            ConfigKey k = ConfigKey.KAFKA_KV_TOPIC;
            throw new ConfigException(k.property() + " (" + k.envVar() + ") shares KV sessions through Kafka: set "
                    + ConfigKey.KAFKA_BOOTSTRAP.property() + " too");
        }
        Scorer scorer = Scorers.create("auto");
        KvSessionRoutes kvSessions = null; // with a cluster: once Kafka is up
        if (!kvCluster) {
            try {
                kvSessions = new KvSessionRoutes(config.dataDir().resolve("kv"), scorer, config.kvSessionTtl(), config.kvDurability(),
                        config.kvLimits());
            } catch (IOException e) {
                scorer.close();
                throw new UncheckedIOException("cannot open the KV sessions under " + config.dataDir().resolve("kv"), e);
            }
        }
        RecsysRoutes recsys;
        try {
            if (config.streamsEvents()) {
                String bootstrap = ServerConfig.KAFKA_EMBEDDED.equals(config.kafkaBootstrap()) ? null : config.kafkaBootstrap();
                spec.commandLine().getErr().println("attend: starting the event stream ("
                        + (bootstrap == null ? "Kafka broker in this process" : "Kafka at " + bootstrap) + ") ...");
                KafkaDeployment kafka = config.kafka();
                HostInfo endpoint = kafka.advertisedAddress() == null ? new HostInfo(config.host(), config.port())
                        : HostInfo.buildFromEndpoint(kafka.advertisedAddress());
                EventStreaming streaming = EventStreaming.start(bootstrap, config.dataDir().resolve("events"), endpoint,
                        SequenceStream.DEFAULT_MAX_PER_USER, config.kafkaClient(), new EventTopics(kafka.eventsTopic(), kafka.deadLetterTopic(),
                                kafka.partitions(), kafka.replicationFactor()), kafka.applicationId(), config.behaviors());
                spec.commandLine().getErr().println("attend: event stream running, Kafka at " + streaming.bootstrapServers()
                        + (streaming.embedded() ? " (the embedded broker: other Kafka clients may connect there)" : ""));
                if (kvCluster) {
                    try {
                        kvSessions = clusteredKvSessions(config, streaming, endpoint, scorer);
                    } catch (RuntimeException e) {
                        streaming.close();
                        throw e;
                    }
                }
                recsys = new RecsysRoutes(streaming, scorer, config.recsysModelFile(), config.recsysModel() != null,
                        config.recsysOnlineSteps(), onlineInstance(kafka, endpoint), config.recsysOnlineNewItemsPerMinute(),
                        config.recsysOnlineMaxItems());
            } else {
                recsys = new RecsysRoutes(config.dataDir().resolve("recsys"), scorer, config.recsysModelFile(), config.recsysModel() != null);
            }
        } catch (IOException e) {
            closeIfOpen(kvSessions);
            scorer.close();
            throw new UncheckedIOException("cannot start recommendation serving: " + e.getMessage(), e);
        } catch (KafkaUnavailableException e) { // the user's to fix (the address, the network): one line
            closeIfOpen(kvSessions);
            scorer.close();
            ConfigKey k = ConfigKey.KAFKA_BOOTSTRAP;
            throw new ConfigException(e.getMessage() + "; check " + k.property() + " (" + k.flag() + ", " + k.envVar() + ")", e);
        } catch (RuntimeException e) {
            closeIfOpen(kvSessions);
            scorer.close();
            throw e;
        }
        SearchRoutes search;
        try {
            search = new SearchRoutes(config.dataDir().resolve("search"),
                    MiniLmEmbedder.shared());
        } catch (IOException e) {
            closeIfOpen(kvSessions);
            scorer.close();
            try {
                recsys.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new UncheckedIOException("cannot open the document index under " + config.dataDir().resolve("search"), e);
        }
        KvSessionRoutes kv = kvSessions;
        ServerMetrics metrics = new ServerMetrics();
        kv.bindMetrics(metrics.registry());
        recsys.withBehaviors(config.behaviors()).bindMetrics(metrics.registry());
        // A model outside the data directory is quarantined beside itself: /health watches its folder too.
        AttendServer server = AttendServer.builder().metrics(metrics).routes(kv).routes(recsys).routes(search)
                .watch(config.recsysModelFile().toAbsolutePath().getParent()).healthCheck(recsys::problems).healthCheck(kv::problems).component("kv", kv::kvState)
                .component("kafka", recsys::kafkaState).component("topology", recsys::topologyState).build();
        stopSignal.onStop(() -> { // before start, so a signal during startup still stops cleanly
            server.stop();
            kv.close();
            try {
                recsys.close();
            } catch (IOException e) {
                System.err.println("attend: closing the behaviour store: " + e.getMessage());
            }
            try {
                search.close();
            } catch (IOException e) {
                System.err.println("attend: closing the document index: " + e.getMessage());
            }
            scorer.close();
        });
        server.start(config);
        PrintWriter out = spec.commandLine().getOut();
        out.println("Attend listening on " + server.url());
        out.flush();
        stopSignal.await();
        return 0;
    }

    /** KV sessions shared through the deployment's KV topic (created when absent), in the group of its instances. */
    private KvSessionRoutes clusteredKvSessions(ServerConfig config, EventStreaming streaming, HostInfo endpoint, Scorer scorer) {
        KafkaDeployment kafka = config.kafka();
        Properties p = KafkaClientProperties.base(config.kafkaClient());
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, streaming.bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            KvTopicLog.createTopic(admin, kafka.kvTopic(), kafka.partitions(), kafka.replicationFactor());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KafkaUnavailableException("interrupted while the KV topic was created", e);
        }
        KvSessionRoutes routes = new KvSessionRoutes(new KvCluster.Settings(streaming.bootstrapServers(), kafka.kvTopic(), kafka.kvGroup(), endpoint,
                kafka.kvInstanceId(), Duration.ofMillis(kafka.kvMemberTimeoutMs()), kafka.kvStandbys(), config.kafkaClient(),
                kafka.kvSnapshots() ? config.dataDir().resolve("kv-cluster") : null), scorer, config.kvSessionTtl(), config.kvLimits(), 1);
        spec.commandLine().getErr().println("attend: KV sessions shared through topic " + kafka.kvTopic() + " (group " + kafka.kvGroup()
                + "), this instance at " + endpoint.host() + ":" + endpoint.port());
        return routes;
    }

    private static void closeIfOpen(KvSessionRoutes kvSessions) {
        if (kvSessions != null) {
            kvSessions.close();
        }
    }

    private Map<ConfigKey, String> flags() {
        Map<ConfigKey, String> flags = new EnumMap<>(ConfigKey.class);
        putIfGiven(flags, ConfigKey.HOST, host);
        putIfGiven(flags, ConfigKey.PORT, port);
        putIfGiven(flags, ConfigKey.DATA_DIR, dataDir);
        putIfGiven(flags, ConfigKey.MAX_BODY_BYTES, maxBodyBytes);
        putIfGiven(flags, ConfigKey.SHUTDOWN_TIMEOUT_MS, shutdownTimeoutMs);
        putIfGiven(flags, ConfigKey.KV_SESSION_TTL_S, kvSessionTtlS);
        putIfGiven(flags, ConfigKey.KV_DURABILITY, kvDurability);
        putIfGiven(flags, ConfigKey.RECSYS_MODEL, recsysModel);
        putIfGiven(flags, ConfigKey.KAFKA_BOOTSTRAP, kafkaBootstrap);
        putIfGiven(flags, ConfigKey.RECSYS_ONLINE_STEPS, recsysOnlineSteps);
        putIfGiven(flags, ConfigKey.MAX_CONCURRENT_REQUESTS, maxConcurrentRequests);
        putIfGiven(flags, ConfigKey.BODY_READ_TIMEOUT_MS, bodyReadTimeoutMs);
        putIfGiven(flags, ConfigKey.ALLOWED_ORIGINS, allowedOrigins);
        if (authTokenFile != null) {
            String first;
            try {
                first = Files.readAllLines(authTokenFile).stream().findFirst().orElse("");
            } catch (IOException | UncheckedIOException e) {
                throw new ConfigException("cannot read the auth token file " + authTokenFile + ": " + e.getMessage());
            }
            if (first.isBlank()) { // an empty file or a blank first line would otherwise mean "no authentication"
                throw new ConfigException("the auth token file " + authTokenFile + " is empty or its first line is "
                        + "blank: put the token (at least " + ServerConfig.MIN_AUTH_TOKEN_CHARS
                        + " printable characters) on its first line");
            }
            flags.put(ConfigKey.AUTH_TOKEN, first);
        }
        return flags;
    }

    private static void putIfGiven(Map<ConfigKey, String> flags, ConfigKey key, String value) {
        if (value != null) {
            flags.put(key, value);
        }
    }

    /** Online training's instance name (its consumer group's suffix): the deployment's id first when it has its own. */
    private static String onlineInstance(KafkaDeployment kafka, HostInfo endpoint) {
        String at = endpoint.host() + "-" + endpoint.port();
        return kafka.applicationId().equals(KafkaDeployment.DEFAULT_APPLICATION_ID) ? at : kafka.applicationId() + "-" + at;
    }
}
