package dev.attend.server;

import java.util.regex.Pattern;

/**
 * Where and as what one deployment of Attend meets Kafka, so that two deployments share a cluster without joining
 * each other: the events topic (its dead letters in {@code TOPIC.dlq}), the partitions and replication factor the
 * topics are created with (existing topics are used as they are), the application id the instances of one
 * deployment share (Kafka Streams' group, also the prefix of its changelog topics and of online training's groups),
 * the address other instances forward requests to ({@code host:port}; null: the address the server binds), and the
 * KV topic (null: KV sessions stay in this server's data directory; else the instances of the deployment share them
 * through it, see {@code dev.attend.streaming.KvCluster}, in the group {@code applicationId + ".kv"}) with its
 * standbys (0 or 1: each instance keeping warm copies of another's sessions), how long an instance that stopped answering
 * keeps its partitions (the group's session timeout: most of a failover), this instance's static member id (null:
 * a dynamic member; with one, a restart within the timeout gets its partitions back without a rebalance), and whether
 * the instance keeps local snapshots of its partitions (a partition taken back reads the topic only after them).
 */
public record KafkaDeployment(String eventsTopic, int partitions, short replicationFactor, String applicationId, String advertisedAddress,
                              String kvTopic, int kvStandbys, long kvMemberTimeoutMs, String kvInstanceId, boolean kvSnapshots) {

    public static final String DEFAULT_EVENTS_TOPIC = "attend.events";
    public static final String DEFAULT_APPLICATION_ID = "attend-sequences";
    /** Default KV member timeout: Kafka's group bounds are 6 s to 30 min by default (the brokers' min and max). */
    public static final long DEFAULT_KV_MEMBER_TIMEOUT_MS = 10_000;
    static final long MIN_KV_MEMBER_TIMEOUT_MS = 6_000;
    static final long MAX_KV_MEMBER_TIMEOUT_MS = 1_800_000;
    /** Kafka's legal topic and group names (249 characters at most). */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,200}");
    private static final Pattern ADDRESS = Pattern.compile("[A-Za-z0-9.-]{1,253}:\\d{1,5}|\\[[0-9A-Fa-f:.]+\\]:\\d{1,5}");

    public KafkaDeployment {
        if (eventsTopic == null || !NAME.matcher(eventsTopic).matches() || eventsTopic.equals(".") || eventsTopic.equals("..")) {
            throw new IllegalArgumentException("events topic '" + eventsTopic + "' is not a Kafka topic name (letters, digits, '.', '_', '-')");
        }
        if (partitions < 1 || partitions > 10_000) {
            throw new IllegalArgumentException("partitions must be 1 to 10000, got " + partitions);
        }
        if (replicationFactor < 1) {
            throw new IllegalArgumentException("the replication factor must be >= 1, got " + replicationFactor);
        }
        if (applicationId == null || !NAME.matcher(applicationId).matches()) {
            throw new IllegalArgumentException("application id '" + applicationId + "' is not a Kafka group name (letters, digits, '.', '_', '-')");
        }
        if (kvTopic != null && (!NAME.matcher(kvTopic).matches() || kvTopic.equals(".") || kvTopic.equals("..") || kvTopic.equals(eventsTopic))) {
            throw new IllegalArgumentException("KV topic '" + kvTopic + "' is not a Kafka topic name (letters, digits, '.', '_', '-') other than the events topic");
        }
        if (kvMemberTimeoutMs < MIN_KV_MEMBER_TIMEOUT_MS || kvMemberTimeoutMs > MAX_KV_MEMBER_TIMEOUT_MS) {
            throw new IllegalArgumentException("the KV member timeout must be " + MIN_KV_MEMBER_TIMEOUT_MS + " to " + MAX_KV_MEMBER_TIMEOUT_MS
                    + " ms (Kafka's group session timeout bounds), got " + kvMemberTimeoutMs);
        }
        if (kvInstanceId != null && !NAME.matcher(kvInstanceId).matches()) {
            throw new IllegalArgumentException("KV instance id '" + kvInstanceId + "' is not a Kafka member id (letters, digits, '.', '_', '-')");
        }
        if (kvStandbys < 0 || kvStandbys > 1) {
            throw new IllegalArgumentException("KV standbys must be 0 or 1, got " + kvStandbys);
        }
        if (advertisedAddress != null && !advertisedOk(advertisedAddress)) {
            throw new IllegalArgumentException("advertised address '" + advertisedAddress + "' is not host:port");
        }
    }

    private static boolean advertisedOk(String a) {
        if (!ADDRESS.matcher(a).matches()) {
            return false;
        }
        int port = Integer.parseInt(a.substring(a.lastIndexOf(':') + 1));
        return port >= 1 && port <= 65535;
    }

    public static KafkaDeployment defaults() {
        return new KafkaDeployment(DEFAULT_EVENTS_TOPIC, 4, (short) 1, DEFAULT_APPLICATION_ID, null, null, 0, DEFAULT_KV_MEMBER_TIMEOUT_MS, null, true);
    }

    /** The group the instances sharing the KV topic form. */
    public String kvGroup() {
        return applicationId + ".kv";
    }

    /** The dead-letter topic beside the events topic. */
    public String deadLetterTopic() {
        return eventsTopic + ".dlq";
    }
}
