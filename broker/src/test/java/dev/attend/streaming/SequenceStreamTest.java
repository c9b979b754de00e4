package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BehaviorSequence;
import dev.attend.recsys.serving.BoundedSequence;
import dev.attend.recsys.serving.SequenceSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sequence topology against a real broker in this JVM. */
class SequenceStreamTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("SequenceStreamTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    Path dir;

    @Test
    void sequencesAreTheBoundedRuleAppliedInOrderAndMalformedRecordsBecomeDeadLetters() throws Exception {
        EventTopics topics = EventTopics.defaults();
        int maxPerUser = 40;
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            createTopics(broker, topics);
            SplittableRandom rnd = new SplittableRandom(SEED + 11);
            List<StreamEvent> events = new ArrayList<>();
            Map<Long, BoundedSequence> want = new HashMap<>();
            for (int i = 0; i < 3000; i++) {
                long user = rnd.nextInt(20);
                long t = rnd.nextInt(500); // out of order, with repeats: duplicates to drop
                BehaviorEvent e = new BehaviorEvent(user, t % 37, t % 5, t % 3 == 0 ? "buy" : "pv", t);
                events.add(new StreamEvent(e, Map.of("n", Integer.toString(i))));
                BoundedSequence s = want.computeIfAbsent(user, u -> new BoundedSequence());
                if (s.insert(e, maxPerUser)) {
                    s.version(s.version() + 1);
                }
            }
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics,
                    new SequenceStream.Options("test-seq", new HostInfo("localhost", 1), dir.resolve("state"), maxPerUser,
                            Duration.ofMillis(100)));
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
                assertThat(stream.awaitRunning(Duration.ofSeconds(60))).as("state " + stream.state()).isTrue();
                producer.send(events.subList(0, 1500));
                producer.sendRaw("3".getBytes(StandardCharsets.UTF_8), "{not json".getBytes(StandardCharsets.UTF_8));
                producer.sendRaw("4".getBytes(StandardCharsets.UTF_8),
                        "{\"v\":1,\"user\":5,\"item\":6,\"category\":7,\"behavior\":\"pv\",\"time\":8}".getBytes(StandardCharsets.UTF_8));
                producer.send(events.subList(1500, events.size()));
                for (long user : want.keySet()) {
                    BehaviorSequence expected = want.get(user).snapshot(user);
                    BehaviorSequence got = awaitVersion(stream, user, expected.version());
                    assertThat(got.length()).isLessThanOrEqualTo(maxPerUser);
                    assertThat(got.times()).as("user %d", user).containsExactly(expected.times());
                    assertThat(got.items()).containsExactly(expected.items());
                    assertThat(got.categories()).containsExactly(expected.categories());
                    assertThat(got.actions()).containsExactly(expected.actions());
                    assertThat(got.version()).isEqualTo(expected.version());
                }
                assertThat(stream.get(999).length()).isZero();
            }
            Map<String, String> dead = deadLetters(broker, topics, 2);
            assertThat(dead).containsKey("3").containsKey("4");
            assertThat(dead.get("3")).startsWith("not JSON");
            assertThat(dead.get("4")).isEqualTo("key '4' is not the event's user 5");
        }
    }

    /**
     * Events a producer put on another partition than their key's (another partitioner than Java's murmur2) are sent
     * to their key's partition and applied there once; when the instance is told the wrong partition count, an event
     * that comes back on a wrong partition is dead-lettered with the reason, not left unread.
     */
    @Test
    void eventsOnTheWrongPartitionAreMovedToTheirKeysOrDeadLettered() throws Exception {
        EventTopics topics = EventTopics.defaults();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            createTopics(broker, topics);
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            p.put(ProducerConfig.ACKS_CONFIG, "all");
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics,
                    new SequenceStream.Options("test-partitions", new HostInfo("localhost", 1), dir.resolve("state"), 100, Duration.ofMillis(100)));
                 KafkaProducer<byte[], byte[]> raw = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
                assertThat(stream.awaitRunning(Duration.ofSeconds(60))).as("state " + stream.state()).isTrue();
                for (long user = 1; user <= 8; user++) {
                    byte[] key = EventWire.key(user);
                    int wrong = (SequenceProcessor.partitionOf(key, topics.partitions()) + 1) % topics.partitions();
                    raw.send(new ProducerRecord<>(topics.events(), wrong, key,
                            EventWire.value(new StreamEvent(new BehaviorEvent(user, 100 + user, 1, "pv", 1000 + user))))).get();
                }
                for (long user = 1; user <= 8; user++) {
                    BehaviorSequence got = awaitVersion(stream, user, 1);
                    assertThat(got.items()).containsExactly(100 + user);
                    assertThat(got.version()).isEqualTo(1); // applied once, where the user is owned
                }
            }
            // Told 3 partitions while the topic has 4: what murmur2 puts on partition 3 can never be where it is told
            // to be, and is dead-lettered once it came back there.
            // A topic of its own: the first part's events would be dead letters here too.
            EventTopics four = new EventTopics("events-of-four", "events-of-four.dlq", 4, topics.replicas());
            createTopics(broker, four);
            EventTopics wrongCount = new EventTopics(four.events(), four.deadLetters(), 3, four.replicas());
            long user = 0;
            byte[] key;
            do {
                key = EventWire.key(++user);
            } while (SequenceProcessor.partitionOf(key, 4) != 3);
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), wrongCount,
                    new SequenceStream.Options("test-partitions-3", new HostInfo("localhost", 1), dir.resolve("state3"), 100, Duration.ofMillis(100)));
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), four)) {
                assertThat(stream.awaitRunning(Duration.ofSeconds(60))).as("state " + stream.state()).isTrue();
                producer.send(List.of(new StreamEvent(new BehaviorEvent(user, 7, 1, "pv", 5))));
                Map<String, String> dead = deadLetters(broker, four, 1);
                assertThat(dead.get(Long.toString(user))).contains("after it was sent back to its key's partition",
                        "the topic's partitions are not what this instance was configured with");
            }
        }
    }

    @Test
    void sequencesSurviveARestartOfBrokerAndStreamAndLaterEventsExtendThem() throws Exception {
        EventTopics topics = EventTopics.defaults();
        SequenceStream.Options options = new SequenceStream.Options("test-restart", new HostInfo("localhost", 1), dir.resolve("state"), 100,
                Duration.ofMillis(100));
        List<StreamEvent> first = new ArrayList<>();
        List<StreamEvent> second = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            (i < 120 ? first : second).add(new StreamEvent(new BehaviorEvent(i % 4, i, i % 9, "pv", 1000 + i)));
        }
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            createTopics(broker, topics);
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics, options);
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
                assertThat(stream.awaitRunning(Duration.ofSeconds(60))).isTrue();
                producer.send(first);
                assertThat(awaitVersion(stream, 3, 30).length()).isEqualTo(30);
            }
        }
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics, options);
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
                assertThat(stream.awaitRunning(Duration.ofSeconds(60))).isTrue();
                assertThat(stream.get(3).length()).isEqualTo(30);
                producer.send(second);
                BehaviorSequence s = awaitVersion(stream, 3, 50);
                assertThat(s.length()).isEqualTo(50);
                long[] times = new long[50];
                for (int j = 0; j < 50; j++) {
                    times[j] = 1000 + 3 + 4L * j;
                }
                assertThat(s.times()).containsExactly(times);
            }
        }
    }

    static void createTopics(EmbeddedKafkaBroker broker, EventTopics topics) throws InterruptedException {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            topics.create(admin);
        }
    }

    /**
     * Polls the store until the user's sequence reaches {@code version} (30 s at most). A store not queryable for a
     * moment (the group rebalancing after the start, as Kafka Streams may do once its threads have joined) is asked
     * again, as a client is told to.
     */
    static BehaviorSequence awaitVersion(SequenceSource stream, long user, long version) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        BehaviorSequence s = BehaviorSequence.empty(user);
        while (System.nanoTime() < deadline) {
            try {
                s = stream.get(user);
            } catch (IllegalStateException notQueryableNow) {
                Thread.sleep(50);
                continue;
            }
            if (s.version() >= version) {
                break;
            }
            Thread.sleep(50);
        }
        assertThat(s.version()).as("user %d's version", user).isEqualTo(version);
        return s;
    }

    static Map<String, String> deadLetters(EmbeddedKafkaBroker broker, EventTopics topics, int expected) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "dlq-reader-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        Map<String, String> out = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(topics.deadLetters()));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (out.size() < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    out.put(new String(r.key(), StandardCharsets.UTF_8),
                            new String(r.headers().lastHeader(EventTopics.REASON_HEADER).value(), StandardCharsets.UTF_8));
                }
            }
        }
        return out;
    }
}
