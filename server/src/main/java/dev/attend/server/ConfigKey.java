package dev.attend.server;

import dev.attend.retrieval.KvSessionLimits;

/**
 * Every server setting, under the three names it goes by: a properties-file key, an environment
 * variable and a command-line flag. Keeping the names together keeps the three sources in step.
 */
public enum ConfigKey {
    HOST("attend.host", "ATTEND_HOST", "--host"),
    PORT("attend.port", "ATTEND_PORT", "--port"),
    DATA_DIR("attend.data-dir", "ATTEND_DATA_DIR", "--data-dir"),
    MAX_BODY_BYTES("attend.max-body-bytes", "ATTEND_MAX_BODY_BYTES", "--max-body-bytes"),
    SHUTDOWN_TIMEOUT_MS("attend.shutdown-timeout-ms", "ATTEND_SHUTDOWN_TIMEOUT_MS", "--shutdown-timeout-ms"),
    KV_SESSION_TTL_S("attend.kv-session-ttl-s", "ATTEND_KV_SESSION_TTL_S", "--kv-session-ttl-s"),
    KV_DURABILITY("attend.kv-durability", "ATTEND_KV_DURABILITY", "--kv-durability"),
    RECSYS_MODEL("attend.recsys-model", "ATTEND_RECSYS_MODEL", "--recsys-model"),
    KAFKA_BOOTSTRAP("attend.kafka-bootstrap", "ATTEND_KAFKA_BOOTSTRAP", "--kafka-bootstrap"),
    RECSYS_ONLINE_STEPS("attend.recsys-online-steps", "ATTEND_RECSYS_ONLINE_STEPS", "--recsys-online-steps"),
    /** Its flag reads the token from a file: a token on the command line would show in the process list. */
    AUTH_TOKEN("attend.auth-token", "ATTEND_AUTH_TOKEN", "--auth-token-file"),
    MAX_CONCURRENT_REQUESTS("attend.max-concurrent-requests", "ATTEND_MAX_CONCURRENT_REQUESTS", "--max-concurrent-requests"),
    BODY_READ_TIMEOUT_MS("attend.body-read-timeout-ms", "ATTEND_BODY_READ_TIMEOUT_MS", "--body-read-timeout-ms"),
    ALLOWED_ORIGINS("attend.allowed-origins", "ATTEND_ALLOWED_ORIGINS", "--allowed-origins"),
    RECSYS_ONLINE_NEW_ITEMS_PER_MINUTE("attend.recsys-online-new-items-per-minute", "ATTEND_RECSYS_ONLINE_NEW_ITEMS_PER_MINUTE", null),
    RECSYS_ONLINE_MAX_ITEMS("attend.recsys-online-max-items", "ATTEND_RECSYS_ONLINE_MAX_ITEMS", null),
    /** The actions events may carry, comma-separated (default: any). */
    BEHAVIORS("attend.behaviors", "ATTEND_BEHAVIORS", null),
    // A Kafka deployment (KafkaDeployment): the config file or the environment only.
    KAFKA_EVENTS_TOPIC("attend.kafka-events-topic", "ATTEND_KAFKA_EVENTS_TOPIC", null),
    KAFKA_PARTITIONS("attend.kafka-partitions", "ATTEND_KAFKA_PARTITIONS", null),
    KAFKA_REPLICATION_FACTOR("attend.kafka-replication-factor", "ATTEND_KAFKA_REPLICATION_FACTOR", null),
    KAFKA_APPLICATION_ID("attend.kafka-application-id", "ATTEND_KAFKA_APPLICATION_ID", null),
    ADVERTISED_ADDRESS("attend.advertised-address", "ATTEND_ADVERTISED_ADDRESS", null),
    /** KV sessions shared by the instances through this topic (default: none, sessions in the data directory). */
    KAFKA_KV_TOPIC("attend.kafka-kv-topic", "ATTEND_KAFKA_KV_TOPIC", null),
    /** With a KV topic: 1 keeps warm copies of another instance's sessions (twice the memory, failovers without a rebuild). */
    KAFKA_KV_STANDBYS("attend.kafka-kv-standbys", "ATTEND_KAFKA_KV_STANDBYS", null),
    /** With a KV topic: how long an instance that stopped answering keeps its partitions (ms, default 10000). */
    KAFKA_KV_MEMBER_TIMEOUT_MS("attend.kafka-kv-member-timeout-ms", "ATTEND_KAFKA_KV_MEMBER_TIMEOUT_MS", null),
    /** With a KV topic: this instance's static member id (default none: a dynamic member). */
    KAFKA_KV_INSTANCE_ID("attend.kafka-kv-instance-id", "ATTEND_KAFKA_KV_INSTANCE_ID", null),
    /** With a KV topic: local snapshots of the partitions an instance owns, under its data directory (default true). */
    KAFKA_KV_SNAPSHOTS("attend.kafka-kv-snapshots", "ATTEND_KAFKA_KV_SNAPSHOTS", null),
    // KV session limits: the config file or the environment only (no flags; see KvSessionLimits for the defaults).
    KV_MAX_LAYERS(KvSessionLimits.KEY_MAX_LAYERS, "ATTEND_KV_MAX_LAYERS", null),
    KV_MAX_KV_HEADS(KvSessionLimits.KEY_MAX_KV_HEADS, "ATTEND_KV_MAX_KV_HEADS", null),
    KV_MAX_HEADS_PER_SESSION(KvSessionLimits.KEY_MAX_HEADS_PER_SESSION, "ATTEND_KV_MAX_HEADS_PER_SESSION", null),
    KV_MAX_QUERY_HEADS_PER_KV_HEAD(KvSessionLimits.KEY_MAX_QUERY_HEADS_PER_KV_HEAD,
            "ATTEND_KV_MAX_QUERY_HEADS_PER_KV_HEAD", null),
    KV_MAX_TOKENS_PER_HEAD(KvSessionLimits.KEY_MAX_TOKENS_PER_HEAD, "ATTEND_KV_MAX_TOKENS_PER_HEAD", null),
    KV_MAX_SESSION_BYTES(KvSessionLimits.KEY_MAX_SESSION_BYTES, "ATTEND_KV_MAX_SESSION_BYTES", null),
    KV_MAX_TOTAL_BYTES(KvSessionLimits.KEY_MAX_TOTAL_BYTES, "ATTEND_KV_MAX_TOTAL_BYTES", null);

    private final String property;
    private final String envVar;
    private final String flag;

    ConfigKey(String property, String envVar, String flag) {
        this.property = property;
        this.envVar = envVar;
        this.flag = flag;
    }

    public String property() {
        return property;
    }

    public String envVar() {
        return envVar;
    }

    /** The command-line flag, or null for a key set only in the config file or the environment. */
    public String flag() {
        return flag;
    }

    public static ConfigKey forProperty(String property) {
        for (ConfigKey key : values()) {
            if (key.property.equals(property)) {
                return key;
            }
        }
        return null;
    }
}
