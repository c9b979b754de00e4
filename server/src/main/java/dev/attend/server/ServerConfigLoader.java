package dev.attend.server;

import dev.attend.recsys.serving.BoundedSequence;
import dev.attend.retrieval.KvDurability;
import dev.attend.retrieval.KvSessionLimits;
import dev.attend.streaming.KafkaClientProperties;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link ServerConfig} from layered sources, later ones winning:
 * defaults &lt; properties file &lt; environment variables &lt; command-line flags.
 *
 * <p>Only the winning value of each key is parsed, so a flag can rescue a bad environment value.
 * Blank values count as unset, which is how shells and container specs usually "unset" a variable.
 * Every error names the key and the source it came from, because "invalid port" alone sends
 * people hunting through three places.
 */
public final class ServerConfigLoader {

    /** Environment variable naming the properties file when no {@code --config} flag is given. */
    public static final String CONFIG_FILE_ENV = "ATTEND_CONFIG";

    private static final Logger LOG = LoggerFactory.getLogger(ServerConfigLoader.class);
    /** Config-file keys {@code attend.kafka.NAME} pass {@code NAME} to every Kafka client (TLS, SASL, ...). */
    public static final String KAFKA_CLIENT_PREFIX = "attend.kafka.";

    /** A raw value and a human description of where it came from, for error messages. */
    private record Setting(String value, String source) {
    }

    private ServerConfigLoader() {
    }

    /**
     * @param configFile the {@code --config} flag, or null to fall back to {@value #CONFIG_FILE_ENV},
     *                   or to no file at all
     * @param env        the environment (pass {@code System.getenv()}; tests pass a map)
     * @param flags      command-line values by key; absent keys were not given
     */
    public static ServerConfig load(Path configFile, Map<String, String> env, Map<ConfigKey, String> flags) {
        Map<ConfigKey, Setting> settings = new EnumMap<>(ConfigKey.class);
        Map<String, String> kafkaClient = new TreeMap<>();
        Path file = configFile != null ? configFile : configFileFromEnv(env);
        if (file != null) {
            readFile(file, configFile != null ? "--config" : CONFIG_FILE_ENV, settings, kafkaClient);
        }
        for (ConfigKey key : ConfigKey.values()) {
            put(settings, key, env.get(key.envVar()), "environment variable " + key.envVar());
        }
        flags.forEach((key, value) -> put(settings, key, value, "command-line flag " + key.flag()));
        ServerConfig config = build(settings);
        if (kafkaClient.isEmpty()) {
            return config;
        }
        try {
            KafkaClientProperties.check(kafkaClient);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("Invalid " + KAFKA_CLIENT_PREFIX + "* in config file " + file + ": " + e.getMessage());
        }
        if (!config.streamsEvents() || ServerConfig.KAFKA_EMBEDDED.equals(config.kafkaBootstrap())) {
            throw new ConfigException("Config file " + file + " sets Kafka client settings " + kafkaClient.keySet() + " but "
                    + ConfigKey.KAFKA_BOOTSTRAP.property() + " is " + config.kafkaBootstrap() + ": they are for a cluster (host:port,...)");
        }
        return config.withKafkaClient(kafkaClient);
    }

    private static Path configFileFromEnv(Map<String, String> env) {
        String value = env.get(CONFIG_FILE_ENV);
        if (value == null || value.isBlank()) {
            return null;
        }
        return toPath(CONFIG_FILE_ENV, new Setting(value.strip(), "environment variable " + CONFIG_FILE_ENV));
    }

    private static void readFile(Path file, String namedBy, Map<ConfigKey, Setting> settings, Map<String, String> kafkaClient) {
        Properties props = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            props.load(reader);
        } catch (NoSuchFileException e) {
            throw new ConfigException("Config file " + file + " (given by " + namedBy + ") does not exist");
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException("Cannot read config file " + file + " (given by " + namedBy + "): " + e.getMessage(), e);
        }
        for (String name : props.stringPropertyNames()) {
            ConfigKey key = ConfigKey.forProperty(name);
            if (name.startsWith(KAFKA_CLIENT_PREFIX)) {
                kafkaClient.put(name.substring(KAFKA_CLIENT_PREFIX.length()), props.getProperty(name).strip());
            } else if (key != null) {
                put(settings, key, props.getProperty(name), "config file " + file);
            } else if (looksLikeServerKey(name)) {
                // Other modules may share the file, so unknown keys are not fatal; a likely typo is worth a warning.
                LOG.warn("Ignoring unknown key {} in config file {}", name, file);
            }
        }
    }

    /** Our keys are all attend.something with no further dot; other modules' keys nest deeper. */
    private static boolean looksLikeServerKey(String name) {
        return name.startsWith("attend.") && name.indexOf('.', "attend.".length()) < 0;
    }

    private static void put(Map<ConfigKey, Setting> settings, ConfigKey key, String value, String source) {
        if (key == ConfigKey.AUTH_TOKEN && value != null && value.isBlank()) {
            // Counting a blank token as unset would start a server without authentication that its operator meant to protect.
            throw new ConfigException("Invalid " + key.property() + " from " + source + ": the token is empty or only spaces; "
                    + "set a token of at least " + ServerConfig.MIN_AUTH_TOKEN_CHARS + " printable characters, or remove the setting "
                    + "to run without authentication");
        }
        if (value != null && !value.isBlank()) {
            settings.put(key, new Setting(value.strip(), source));
        }
    }

    private static ServerConfig build(Map<ConfigKey, Setting> settings) {
        ServerConfig defaults = ServerConfig.defaults();
        Setting host = settings.get(ConfigKey.HOST);
        Setting port = settings.get(ConfigKey.PORT);
        Setting dataDir = settings.get(ConfigKey.DATA_DIR);
        Setting maxBody = settings.get(ConfigKey.MAX_BODY_BYTES);
        Setting shutdown = settings.get(ConfigKey.SHUTDOWN_TIMEOUT_MS);
        Setting ttl = settings.get(ConfigKey.KV_SESSION_TTL_S);
        Setting durability = settings.get(ConfigKey.KV_DURABILITY);
        Setting recsysModel = settings.get(ConfigKey.RECSYS_MODEL);
        Setting kafka = settings.get(ConfigKey.KAFKA_BOOTSTRAP);
        Setting online = settings.get(ConfigKey.RECSYS_ONLINE_STEPS);
        Setting token = settings.get(ConfigKey.AUTH_TOKEN);
        Setting concurrent = settings.get(ConfigKey.MAX_CONCURRENT_REQUESTS);
        Setting bodyRead = settings.get(ConfigKey.BODY_READ_TIMEOUT_MS);
        Setting origins = settings.get(ConfigKey.ALLOWED_ORIGINS);
        Setting newItems = settings.get(ConfigKey.RECSYS_ONLINE_NEW_ITEMS_PER_MINUTE);
        Setting maxItems = settings.get(ConfigKey.RECSYS_ONLINE_MAX_ITEMS);
        return new ServerConfig(
                host == null ? defaults.host() : parseHost(host),
                port == null ? defaults.port() : (int) parseLong(ConfigKey.PORT, port, 0, 65535,
                        "a port between 0 and 65535 (0 picks a free port)"),
                dataDir == null ? defaults.dataDir() : toPath(ConfigKey.DATA_DIR.property(), dataDir),
                maxBody == null ? defaults.maxBodyBytes() : parseLong(ConfigKey.MAX_BODY_BYTES, maxBody, 1,
                        Long.MAX_VALUE, "a positive number of bytes"),
                shutdown == null ? defaults.shutdownTimeout() : Duration.ofMillis(parseLong(
                        ConfigKey.SHUTDOWN_TIMEOUT_MS, shutdown, 0, Long.MAX_VALUE, "zero or a positive number of milliseconds")),
                ttl == null ? defaults.kvSessionTtl() : Duration.ofSeconds(parseLong(ConfigKey.KV_SESSION_TTL_S, ttl, 0,
                        Long.MAX_VALUE / 1_000_000_000L, "zero (never) or a positive number of seconds")),
                durability == null ? defaults.kvDurability() : parseDurability(durability),
                recsysModel == null ? null : toPath(ConfigKey.RECSYS_MODEL.property(), recsysModel),
                kafka == null ? defaults.kafkaBootstrap() : parseKafka(kafka),
                online == null ? defaults.recsysOnlineSteps() : parseShare(ConfigKey.RECSYS_ONLINE_STEPS, online),
                token == null ? null : parseToken(token),
                concurrent == null ? defaults.maxConcurrentRequests() : (int) parseLong(ConfigKey.MAX_CONCURRENT_REQUESTS, concurrent, 1,
                        100_000, "a number of requests from 1 to 100000"),
                bodyRead == null ? defaults.bodyReadTimeout() : Duration.ofMillis(parseLong(ConfigKey.BODY_READ_TIMEOUT_MS, bodyRead,
                        1, 3_600_000, "a number of milliseconds from 1 to 3600000")),
                origins == null ? defaults.allowedOrigins() : parseOrigins(origins),
                kvLimits(settings),
                newItems == null ? defaults.recsysOnlineNewItemsPerMinute() : (int) parseLong(ConfigKey.RECSYS_ONLINE_NEW_ITEMS_PER_MINUTE,
                        newItems, 0, Integer.MAX_VALUE, "zero (no new items) or a positive number of items a minute"),
                maxItems == null ? defaults.recsysOnlineMaxItems() : (int) parseLong(ConfigKey.RECSYS_ONLINE_MAX_ITEMS, maxItems, 1,
                        Integer.MAX_VALUE, "a positive number of items"),
                Map.of(),
                kafkaDeployment(settings, defaults.kafka()),
                behaviors(settings.get(ConfigKey.BEHAVIORS)));
    }

    /** A comma-separated set of actions, each 1-64 bytes of text without commas. */
    private static Set<String> behaviors(Setting setting) {
        if (setting == null) {
            return Set.of();
        }
        Set<String> out = new TreeSet<>();
        for (String a : setting.value().split(",")) {
            String action = a.strip();
            if (action.isEmpty() || action.getBytes(StandardCharsets.UTF_8).length > BoundedSequence.MAX_ACTION_BYTES) {
                throw new ConfigException("Invalid " + ConfigKey.BEHAVIORS.property() + " '" + setting.value() + "' (from " + setting.source()
                        + "): expected actions of 1 to " + BoundedSequence.MAX_ACTION_BYTES + " bytes separated by commas, e.g. pv,cart,fav,buy");
            }
            out.add(action);
        }
        return out;
    }

    /** The Kafka deployment's settings, each from where it was set; a bad one names its key and source. */
    private static KafkaDeployment kafkaDeployment(Map<ConfigKey, Setting> settings, KafkaDeployment d) {
        Setting topic = settings.get(ConfigKey.KAFKA_EVENTS_TOPIC);
        Setting partitions = settings.get(ConfigKey.KAFKA_PARTITIONS);
        Setting replication = settings.get(ConfigKey.KAFKA_REPLICATION_FACTOR);
        Setting application = settings.get(ConfigKey.KAFKA_APPLICATION_ID);
        Setting advertised = settings.get(ConfigKey.ADVERTISED_ADDRESS);
        Setting kvTopic = settings.get(ConfigKey.KAFKA_KV_TOPIC);
        Setting kvStandbys = settings.get(ConfigKey.KAFKA_KV_STANDBYS);
        int standbys = kvStandbys == null ? d.kvStandbys() : (int) parseLong(ConfigKey.KAFKA_KV_STANDBYS, kvStandbys, 0, 1, "0 or 1 standbys");
        Setting kvTimeout = settings.get(ConfigKey.KAFKA_KV_MEMBER_TIMEOUT_MS);
        long memberTimeout = kvTimeout == null ? d.kvMemberTimeoutMs() : parseLong(ConfigKey.KAFKA_KV_MEMBER_TIMEOUT_MS, kvTimeout, 6_000, 1_800_000,
                "6000 to 1800000 ms");
        Setting kvInstance = settings.get(ConfigKey.KAFKA_KV_INSTANCE_ID);
        Setting kvSnapshots = settings.get(ConfigKey.KAFKA_KV_SNAPSHOTS);
        boolean snapshots = kvSnapshots == null ? d.kvSnapshots() : parseBoolean(ConfigKey.KAFKA_KV_SNAPSHOTS, kvSnapshots);
        int p = partitions == null ? d.partitions() : (int) parseLong(ConfigKey.KAFKA_PARTITIONS, partitions, 1, 10_000, "1 to 10000 partitions");
        short r = replication == null ? d.replicationFactor() : (short) parseLong(ConfigKey.KAFKA_REPLICATION_FACTOR, replication, 1,
                Short.MAX_VALUE, "a replication factor of at least 1");
        try {
            return new KafkaDeployment(topic == null ? d.eventsTopic() : topic.value(), p, r,
                    application == null ? d.applicationId() : application.value(), advertised == null ? null : advertised.value(),
                    kvTopic == null ? d.kvTopic() : kvTopic.value(), standbys, memberTimeout, kvInstance == null ? d.kvInstanceId() : kvInstance.value(),
                    snapshots);
        } catch (IllegalArgumentException e) {
            List<String> from = new ArrayList<>();
            for (Setting s : new Setting[] {topic, application, advertised, kvTopic, kvInstance}) {
                if (s != null) {
                    from.add(s.source());
                }
            }
            throw new ConfigException("Invalid Kafka deployment setting: " + e.getMessage() + " (from " + String.join(", ", from) + ")");
        }
    }

    /** The KV session limits: each key from where it was set, the rest at their defaults; a bad one names its source. */
    private static KvSessionLimits kvLimits(Map<ConfigKey, Setting> settings) {
        Function<String, String> lookup = property -> {
            Setting s = settings.get(ConfigKey.forProperty(property));
            return s == null ? null : s.value();
        };
        try {
            return KvSessionLimits.from(lookup);
        } catch (IllegalArgumentException e) {
            String key = e.getMessage() == null ? "" : e.getMessage().split(" ", 2)[0];
            Setting s = settings.get(ConfigKey.forProperty(key));
            throw new ConfigException("Invalid " + e.getMessage() + (s == null ? "" : " (from " + s.source() + ")"));
        }
    }

    /** A comma-separated list of origins, each {@code scheme://host[:port]} as browsers send it. */
    private static List<String> parseOrigins(Setting setting) {
        List<String> out = new ArrayList<>();
        for (String o : setting.value().split(",")) {
            String origin = o.strip();
            if (!origin.matches("https?://[A-Za-z0-9.\\[\\]:-]+")) {
                throw invalid(ConfigKey.ALLOWED_ORIGINS.property(), setting, "a comma-separated list of origins such as "
                        + "https://app.example.com or http://localhost:3000");
            }
            out.add(origin.toLowerCase(Locale.ROOT));
        }
        return out;
    }

    private static double parseShare(ConfigKey key, Setting setting) {
        try {
            double v = Double.parseDouble(setting.value().strip());
            if (v >= 0 && v <= 1) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw invalid(key.property(), setting, "a share between 0 and 1 (0: off)");
    }

    private static String parseKafka(Setting setting) {
        String v = setting.value().strip();
        if (v.equals(ServerConfig.KAFKA_EMBEDDED) || v.equals(ServerConfig.KAFKA_NONE)
                || v.matches("[A-Za-z0-9._\\[\\]:-]+:[0-9]{1,5}(,[A-Za-z0-9._\\[\\]:-]+:[0-9]{1,5})*")) {
            return v;
        }
        throw invalid(ConfigKey.KAFKA_BOOTSTRAP.property(), setting, "embedded, none, or host:port[,host:port...]");
    }

    private static KvDurability parseDurability(Setting setting) {
        try {
            return KvDurability.of(setting.value().strip());
        } catch (IllegalArgumentException e) {
            throw invalid(ConfigKey.KV_DURABILITY.property(), setting, "fsync or process");
        }
    }

    private static String parseHost(Setting setting) {
        if (setting.value().chars().anyMatch(Character::isWhitespace)) {
            throw invalid(ConfigKey.HOST.property(), setting, "a host name or IP address");
        }
        return setting.value();
    }

    private static boolean parseBoolean(ConfigKey key, Setting setting) {
        return switch (setting.value().trim()) {
            case "true" -> true;
            case "false" -> false;
            default -> throw invalid(key.property(), setting, "true or false");
        };
    }

    private static long parseLong(ConfigKey key, Setting setting, long min, long max, String expected) {
        long value;
        try {
            value = Long.parseLong(setting.value().replace("_", ""));
        } catch (NumberFormatException e) {
            throw invalid(key.property(), setting, expected);
        }
        if (value < min || value > max) {
            throw invalid(key.property(), setting, expected);
        }
        return value;
    }

    /** The bearer token, checked like {@link ServerConfig} does but without echoing it in the error. */
    private static String parseToken(Setting setting) {
        String t = setting.value();
        if (t.length() < ServerConfig.MIN_AUTH_TOKEN_CHARS || !t.chars().allMatch(ch -> ch > 32 && ch < 127)) {
            throw new ConfigException("Invalid " + ConfigKey.AUTH_TOKEN.property() + " from " + setting.source() + ": expected at least "
                    + ServerConfig.MIN_AUTH_TOKEN_CHARS + " printable ASCII characters without spaces (the value is not shown)");
        }
        return t;
    }

    private static Path toPath(String property, Setting setting) {
        try {
            return Path.of(setting.value());
        } catch (InvalidPathException e) {
            throw invalid(property, setting, "a valid path");
        }
    }

    private static ConfigException invalid(String property, Setting setting, String expected) {
        return new ConfigException("Invalid " + property + " from " + setting.source() + ": \"" + setting.value()
                + "\" is not " + expected);
    }
}
