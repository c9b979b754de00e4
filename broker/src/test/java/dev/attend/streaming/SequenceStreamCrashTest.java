package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BehaviorSequence;
import dev.attend.recsys.serving.BoundedSequence;
import dev.attend.streaming.internals.SequenceKeys;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.KeyValue;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of the process that runs the topology in the middle of a stream, then a new process on the same state
 * directory: every event is in its user's sequence, and every malformed record is in the dead letters exactly once
 * (exactly-once processing: the killed process's open transaction is aborted, its work redone once).
 */
class SequenceStreamCrashTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("SequenceStreamCrashTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    Path dir;

    @Test
    void aKilledProcessLosesNothingAndDoublesNothing() throws Exception {
        EventTopics topics = EventTopics.defaults();
        String app = "crash-test";
        int maxPerUser = 10_000;
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"));
             EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
            SequenceStreamTest.createTopics(broker, topics);
            SplittableRandom rnd = new SplittableRandom(SEED + 5);
            Map<Long, BoundedSequence> want = new HashMap<>();
            Process first = startProcess(broker, app, maxPerUser);
            int malformed = 0;
            Process second = null;
            try {
                for (int batch = 0; batch < 30; batch++) {
                    List<StreamEvent> events = new ArrayList<>();
                    for (int i = 0; i < 1000; i++) {
                        long user = rnd.nextInt(50);
                        BehaviorEvent e = new BehaviorEvent(user, rnd.nextInt(100_000), rnd.nextInt(100), "pv", 1_000_000L + batch * 1000L + i);
                        events.add(new StreamEvent(e));
                        BoundedSequence s = want.computeIfAbsent(user, u -> new BoundedSequence());
                        if (s.insert(e, maxPerUser)) {
                            s.version(s.version() + 1);
                        }
                    }
                    producer.send(events);
                    producer.sendRaw(("bad" + batch).getBytes(StandardCharsets.UTF_8), "{\"v\":1}".getBytes(StandardCharsets.UTF_8));
                    malformed++;
                    if (batch == 12) {
                        first.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL: no shutdown hook, no commit
                    }
                    if (batch == 18) {
                        second = startProcess(broker, app, maxPerUser);
                    }
                }
                Map<Long, BehaviorSequence> got = awaitChangelog(broker, app + "-" + SequenceStream.STORE + "-changelog", want);
                for (Map.Entry<Long, BoundedSequence> e : want.entrySet()) {
                    BehaviorSequence g = got.get(e.getKey());
                    BehaviorSequence w = e.getValue().snapshot(e.getKey());
                    assertThat(g.times()).as("user %d", e.getKey()).containsExactly(w.times());
                    assertThat(g.items()).containsExactly(w.items());
                    assertThat(g.version()).as("changes applied to user %d", e.getKey()).isEqualTo(w.version());
                }
                Map<String, Integer> dead = deadLetterCounts(broker, topics, malformed);
                assertThat(dead).hasSize(malformed);
                assertThat(dead.values()).as("each dead letter once").containsOnly(1);
            } finally {
                first.destroyForcibly();
                if (second != null) {
                    second.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                }
            }
        }
    }

    private Process startProcess(EmbeddedKafkaBroker broker, String app, int maxPerUser) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"), SequenceStreamProcess.class.getName(),
                broker.bootstrapServers(), app, dir.resolve("state").toString(), Integer.toString(maxPerUser))
                .redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        String line;
        while ((line = out.readLine()) != null) {
            if (line.equals("RUNNING")) {
                Thread drain = new Thread(() -> out.lines().forEach(l -> { }));
                drain.setDaemon(true);
                drain.start();
                return p;
            }
            if (line.startsWith("FAILED") || System.nanoTime() > deadline) {
                break;
            }
        }
        p.destroyForcibly();
        throw new AssertionError("the stream process did not start: " + line);
    }

    /** The store's committed content, read from its changelog until every user reaches the expected version. */
    private static Map<Long, BehaviorSequence> awaitChangelog(EmbeddedKafkaBroker broker, String topic, Map<Long, BoundedSequence> want) {
        Map<String, byte[]> rows = new TreeMap<>(); // the store: latest value per key, deletes applied
        Map<Long, BehaviorSequence> got = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> c = consumer(broker)) {
            c.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    String key = new String(r.key(), StandardCharsets.UTF_8);
                    if (r.value() == null) {
                        rows.remove(key);
                    } else {
                        rows.put(key, r.value());
                    }
                }
                if (want.entrySet().stream().allMatch(e -> sequenceOf(rows, e.getKey()).version() >= e.getValue().version())) {
                    break;
                }
            }
        }
        for (long user : want.keySet()) {
            got.put(user, sequenceOf(rows, user));
        }
        return got;
    }

    /** A user's sequence from the changelog's rows (the version is the largest its rows hold). */
    private static BehaviorSequence sequenceOf(Map<String, byte[]> rows, long user) {
        String prefix = SequenceKeys.events(user);
        List<KeyValue<String, byte[]>> events = new ArrayList<>();
        rows.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                events.add(KeyValue.pair(k, v));
            }
        });
        return SequenceKeys.toSequence(user, events);
    }

    private static Map<String, Integer> deadLetterCounts(EmbeddedKafkaBroker broker, EventTopics topics, int expected) throws InterruptedException {
        Map<String, Integer> counts = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> c = consumer(broker)) {
            c.subscribe(List.of(topics.deadLetters()));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            long quietUntil = 0;
            while (System.nanoTime() < deadline) {
                var records = c.poll(Duration.ofMillis(200));
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    counts.merge(new String(r.key(), StandardCharsets.UTF_8), 1, Integer::sum);
                }
                // all expected seen: read two more seconds for any duplicate
                if (counts.size() >= expected && quietUntil == 0) {
                    quietUntil = System.nanoTime() + Duration.ofSeconds(2).toNanos();
                }
                if (quietUntil != 0 && System.nanoTime() > quietUntil) {
                    break;
                }
            }
        }
        return counts;
    }

    private static KafkaConsumer<byte[], byte[]> consumer(EmbeddedKafkaBroker broker) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }
}
