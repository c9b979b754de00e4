package dev.attend.streaming;

import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * A Kafka cluster's own client settings, passed through to every client Attend makes (admin, producer, the
 * topology's, online training's): TLS ({@code security.protocol=SSL}, {@code ssl.truststore.location}, ...), SASL
 * ({@code sasl.mechanism}, {@code sasl.jaas.config}), timeouts. The settings Attend's guarantees rest on stay its
 * own: what {@link #OWNED} names is refused here, and each client sets its own over these.
 */
public final class KafkaClientProperties {

    /** Set by Attend itself: the cluster, the serialisers, exactly-once and idempotence, the group and application ids. */
    public static final List<String> OWNED = List.of("bootstrap.servers", "key.serializer", "value.serializer", "key.deserializer",
            "value.deserializer", "acks", "enable.idempotence", "processing.guarantee", "application.id", "group.id",
            "isolation.level", "enable.auto.commit", "application.server");

    private KafkaClientProperties() {
    }

    /** Refuses a setting Attend owns, or a blank name or value, with the reason. */
    public static void check(Map<String, String> client) {
        for (Map.Entry<String, String> e : client.entrySet()) {
            String name = e.getKey();
            if (name == null || name.isBlank() || e.getValue() == null || e.getValue().isBlank()) {
                throw new IllegalArgumentException("Kafka client setting '" + name + "' has no name or no value");
            }
            for (String owned : OWNED) {
                if (name.equals(owned) || name.endsWith("." + owned)) {
                    throw new IllegalArgumentException("Kafka client setting '" + name + "' is Attend's own (its guarantees rest on it); "
                            + "set the cluster with attend.kafka-bootstrap");
                }
            }
        }
    }

    /** Properties holding {@code client}'s settings, for a client to add its own to. */
    public static Properties base(Map<String, String> client) {
        check(client);
        Properties p = new Properties();
        p.putAll(client);
        return p;
    }
}
