package dev.attend.broker;

import dev.attend.streaming.EventProducer;
import dev.attend.streaming.EventTopics;
import dev.attend.streaming.KafkaClientProperties;
import dev.attend.streaming.KafkaUnavailableException;
import dev.attend.streaming.SequenceStream;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a server runs to stream events: a broker (in this JVM unless a cluster is given), the topics, the
 * sequence topology and a producer. {@link #sequences()} is where a recommender reads users' behaviours,
 * {@link #producer()} where events go in.
 */
public final class EventStreaming implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EventStreaming.class);

    /** How long a start waits for the topology to run: restoring a large store on a slow machine takes minutes. */
    private static final Duration START_TIMEOUT = Duration.ofSeconds(240);
    /** How long a Kafka cluster named by the user may take to answer at start before we say it is unreachable. */
    static final Duration REACH_TIMEOUT = Duration.ofSeconds(10);

    private final EmbeddedKafkaBroker broker;
    private final String bootstrapServers;
    private final EventTopics topics;
    private final EventProducer producer;
    private final SequenceStream sequences;
    private final Map<String, String> client;

    private EventStreaming(EmbeddedKafkaBroker broker, String bootstrapServers, EventTopics topics, EventProducer producer,
                           SequenceStream sequences, Map<String, String> client) {
        this.broker = broker;
        this.bootstrapServers = bootstrapServers;
        this.topics = topics;
        this.producer = producer;
        this.sequences = sequences;
        this.client = Map.copyOf(client);
    }

    /** The cluster's client settings every Kafka client of this stream takes (empty for the embedded broker). */
    public Map<String, String> clientProperties() {
        return client;
    }

    /** The Kafka cluster events stream through (this process's broker, or the one given). */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    public EventTopics topics() {
        return topics;
    }

    /**
     * Starts streaming under {@code dir} ({@code kafka/} for an embedded broker's log, {@code streams/} for the
     * topology's state): against {@code bootstrapServers}, or a broker of its own when that is null. {@code endpoint}
     * is this instance's HTTP address, published to the other instances for forwarding. Waits until the topology runs.
     */
    public static EventStreaming start(String bootstrapServers, Path dir, HostInfo endpoint, int maxPerUser) throws IOException {
        return start(bootstrapServers, dir, endpoint, maxPerUser, Map.of());
    }

    /**
     * The same, with a cluster's client settings ({@link KafkaClientProperties}: TLS, SASL, timeouts) for every Kafka
     * client it makes (admin, producer, the topology's, online training's); none for an embedded broker.
     */
    public static EventStreaming start(String bootstrapServers, Path dir, HostInfo endpoint, int maxPerUser, Map<String, String> client)
            throws IOException {
        return start(bootstrapServers, dir, endpoint, maxPerUser, client, EventTopics.defaults(), SequenceStream.DEFAULT_APPLICATION_ID);
    }

    /**
     * The same, on {@code topics} (created when missing, with their partitions and replication factor) as the
     * deployment {@code applicationId} (the Kafka Streams application its instances share): two deployments with
     * their own topics and ids share a cluster without reading each other's events.
     */
    public static EventStreaming start(String bootstrapServers, Path dir, HostInfo endpoint, int maxPerUser, Map<String, String> client,
                                       EventTopics configured, String applicationId) throws IOException {
        return start(bootstrapServers, dir, endpoint, maxPerUser, client, configured, applicationId, Set.of());
    }

    /** The same, keeping only events whose action is one of {@code behaviors} (the others dead-lettered; empty: any). */
    public static EventStreaming start(String bootstrapServers, Path dir, HostInfo endpoint, int maxPerUser, Map<String, String> client,
                                       EventTopics configured, String applicationId, Set<String> behaviors) throws IOException {
        EventTopics topics = configured;
        KafkaClientProperties.check(client);
        if (bootstrapServers == null && !client.isEmpty()) {
            throw new IllegalArgumentException("Kafka client settings " + client.keySet() + " are for a cluster; the embedded broker takes none");
        }
        EmbeddedKafkaBroker broker = bootstrapServers == null ? EmbeddedKafkaBroker.start(dir.resolve("kafka")) : null;
        String bootstrap = broker == null ? bootstrapServers : broker.bootstrapServers();
        EventProducer producer = null;
        SequenceStream sequences = null;
        try {
            Properties p = KafkaClientProperties.base(client);
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) REACH_TIMEOUT.toMillis());
            p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) REACH_TIMEOUT.toMillis());
            try (Admin admin = Admin.create(p)) {
                if (broker == null) {
                    checkReachable(admin, bootstrap);
                }
                topics.create(admin);
                topics = asTheyAre(admin, topics);
            }
            if (broker != null) {
                broker.repairHangingTransactions();
            }
            producer = new EventProducer(bootstrap, topics, broker == null ? Optional::empty : broker::failure, client);
            sequences = new SequenceStream(bootstrap, topics, SequenceStream.Options.defaults(dir.resolve("streams"), endpoint)
                    .withMaxPerUser(maxPerUser).withApplicationId(applicationId).withBehaviors(behaviors), client);
            awaitRunning(sequences, broker, bootstrap);
            return new EventStreaming(broker, bootstrap, topics, producer, sequences, client);
        } catch (IOException | RuntimeException e) {
            closeAll(sequences, producer, broker);
            throw e;
        } catch (InterruptedException e) {
            closeAll(sequences, producer, broker);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting the event stream", e);
        }
    }

    /**
     * The topics with the events topic's partitions as the cluster has them (an existing topic keeps its own count):
     * the topology checks that each event is on its key's partition by that count.
     */
    private static EventTopics asTheyAre(Admin admin, EventTopics topics) throws InterruptedException {
        int partitions;
        try {
            partitions = admin.describeTopics(List.of(topics.events())).allTopicNames().get(REACH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    .get(topics.events()).partitions().size();
        } catch (ExecutionException | TimeoutException e) {
            throw new KafkaUnavailableException("cannot read the partitions of " + topics.events() + ": " + e.getMessage(), e);
        }
        if (partitions == topics.partitions()) {
            return topics;
        }
        LOG.warn("Topic {} has {} partitions, not the {} configured: using its {}", topics.events(), partitions, topics.partitions(), partitions);
        return new EventTopics(topics.events(), topics.deadLetters(), partitions, topics.replicas());
    }

    /** A cluster that does not answer is said at once, not after the clients' minute of retries. */
    private static void checkReachable(Admin admin, String bootstrap) throws InterruptedException {
        try {
            admin.describeCluster().clusterId().get(REACH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            throw new KafkaUnavailableException("Kafka at " + bootstrap + " did not answer within " + REACH_TIMEOUT.toSeconds() + " s ("
                    + (cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage()) + ")", cause);
        }
    }

    /**
     * Waits for the topology to run (its share of the store restored). A restore that stops at a transaction the
     * crash left open would wait for good: with this process's own broker, such transactions are looked for and
     * ended as their coordinator decided every few seconds of the wait (they can appear after the first look, while
     * the broker's transaction coordinator settles).
     */
    private static void awaitRunning(SequenceStream sequences, EmbeddedKafkaBroker broker, String bootstrap)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!sequences.awaitRunning(Duration.ofSeconds(10))) {
            if (System.nanoTime() > deadline || sequences.state() == KafkaStreams.State.ERROR
                    || sequences.state() == KafkaStreams.State.NOT_RUNNING) {
                throw new IOException("the sequence topology did not start (state " + sequences.state() + ", Kafka at " + bootstrap + ")");
            }
            if (broker != null) {
                broker.repairHangingTransactions();
            }
        }
    }

    /**
     * Why this process's embedded broker stopped (a fatal Kafka error, a failed log directory say), or empty while
     * it runs or when the cluster is another one: for {@code /health}. Once set, sends fail at once
     * ({@link KafkaUnavailableException}) and the topology stops being fed.
     */
    public Optional<String> brokerFailure() {
        return broker == null ? Optional.empty() : broker.failure();
    }

    /** Whether the broker is this process's own ({@link EmbeddedKafkaBroker}) rather than a cluster named by the user. */
    public boolean embedded() {
        return broker != null;
    }

    public SequenceStream sequences() {
        return sequences;
    }

    public EventProducer producer() {
        return producer;
    }

    @Override
    public void close() {
        closeAll(sequences, producer, broker);
    }

    private static void closeAll(SequenceStream sequences, EventProducer producer, EmbeddedKafkaBroker broker) {
        if (sequences != null) {
            // with its broker stopped the topology cannot leave its group: no use waiting 30 s for it
            sequences.close(broker != null && broker.failure().isPresent() ? Duration.ofSeconds(2) : Duration.ofSeconds(30));
        }
        if (producer != null) {
            producer.close();
        }
        if (broker != null) {
            broker.close();
        }
    }
}
