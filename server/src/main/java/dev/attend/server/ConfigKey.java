package dev.attend.server;

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
    ALLOWED_ORIGINS("attend.allowed-origins", "ATTEND_ALLOWED_ORIGINS", "--allowed-origins");

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
