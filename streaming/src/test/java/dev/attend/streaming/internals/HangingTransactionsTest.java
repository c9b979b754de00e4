package dev.attend.streaming.internals;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.streaming.EmbeddedKafkaBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hanging transaction made on a real broker: the transaction coordinator's log is put back to a copy taken before
 * the transaction began (what a coordinator that skipped the markers ends up believing), so the partition holds an
 * open transaction that nothing will close. The repair aborts it and only it: a transaction in progress on another
 * partition is left to its producer, which commits it afterwards.
 */
class HangingTransactionsTest {

    @TempDir
    Path dir;

    @Test
    void abortsTheTransactionItsCoordinatorForgotAndLeavesALiveOneAlone() throws Exception {
        Path logs = dir.resolve("kafka").resolve("log");
        Path coordinatorCopy = dir.resolve("coordinator-copy");
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            try (Admin admin = admin(broker)) {
                admin.createTopics(List.of(new NewTopic("forgotten", 1, (short) 1), new NewTopic("live", 1, (short) 1))).all().get();
            }
            KafkaProducer<String, String> producer = producer(broker, "dead-producer");
            try {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>("forgotten", "committed", "1"));
                producer.commitTransaction();
                awaitCompleted(broker, "dead-producer"); // the commit returns before the coordinator writes it complete
                copyCoordinatorLog(logs, coordinatorCopy); // the coordinator knows the producer, with nothing open
                producer.beginTransaction();
                producer.send(new ProducerRecord<>("forgotten", "never-decided", "2"));
                producer.flush();
            } finally {
                producer.close(Duration.ZERO); // no commit, no abort: the process dies here
            }
        }
        restoreCoordinatorLog(coordinatorCopy, logs);

        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"));
             KafkaProducer<String, String> live = producer(broker, "live-producer")) {
            TopicPartition forgotten = new TopicPartition("forgotten", 0);
            try (Admin admin = admin(broker)) {
                assertThat(admin.describeProducers(List.of(forgotten)).partitionResult(forgotten).get().activeProducers())
                        .as("the partition still holds the transaction open")
                        .anyMatch(p -> p.currentTransactionStartOffset().isPresent());
            }
            live.initTransactions();
            live.beginTransaction();
            live.send(new ProducerRecord<>("live", "in-progress", "3"));
            live.flush();

            assertThat(broker.abortHangingTransactions()).as("the forgotten transaction, and not the live one").isEqualTo(1);
            assertThat(broker.abortHangingTransactions()).as("nothing left to abort").isZero();

            assertThat(lastStableOffset(broker, forgotten)).as("read_committed readers reach the log's end")
                    .isEqualTo(logEndOffset(broker, forgotten));
            assertThat(readCommitted(broker, forgotten)).as("the forgotten transaction is aborted: its record is not read")
                    .containsExactly("committed");
            live.commitTransaction();
            assertThat(readCommitted(broker, new TopicPartition("live", 0))).as("the live transaction committed as usual")
                    .containsExactly("in-progress");
        }
    }

    private static void awaitCompleted(EmbeddedKafkaBroker broker, String transactionalId) throws Exception {
        try (Admin admin = admin(broker)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (admin.describeTransactions(List.of(transactionalId)).description(transactionalId).get().state()
                    != TransactionState.COMPLETE_COMMIT) {
                assertThat(System.nanoTime()).as("the commit completes").isLessThan(deadline);
                Thread.sleep(20);
            }
        }
    }

    private static long lastStableOffset(EmbeddedKafkaBroker broker, TopicPartition tp) throws Exception {
        return endOffset(broker, tp, IsolationLevel.READ_COMMITTED);
    }

    private static long logEndOffset(EmbeddedKafkaBroker broker, TopicPartition tp) throws Exception {
        return endOffset(broker, tp, IsolationLevel.READ_UNCOMMITTED);
    }

    private static long endOffset(EmbeddedKafkaBroker broker, TopicPartition tp, IsolationLevel level) throws Exception {
        try (Admin admin = admin(broker)) {
            return admin.listOffsets(Map.of(tp, OffsetSpec.latest()), new ListOffsetsOptions(level)).partitionResult(tp).get().offset();
        }
    }

    private static Admin admin(EmbeddedKafkaBroker broker) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        return Admin.create(p);
    }

    private static KafkaProducer<String, String> producer(EmbeddedKafkaBroker broker, String transactionalId) {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId,
                ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, (int) Duration.ofMinutes(10).toMillis()),
                new StringSerializer(), new StringSerializer());
    }

    /** The keys a read_committed reader gets from the partition, reading until its end. */
    private static List<String> readCommitted(EmbeddedKafkaBroker broker, TopicPartition tp) {
        Map<String, Object> config = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config, new StringDeserializer(), new StringDeserializer())) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp)).get(tp);
            // read_committed end offsets stop at the first open transaction: the end of a log without one is its last offset
            List<String> keys = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (consumer.position(tp) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    keys.add(r.key());
                }
            }
            return keys;
        }
    }

    private static void copyCoordinatorLog(Path logs, Path copy) throws IOException {
        try (Stream<Path> partitions = Files.list(logs)) {
            for (Path p : partitions.filter(p -> p.getFileName().toString().startsWith("__transaction_state-")).toList()) {
                copyTree(p, copy.resolve(p.getFileName()));
            }
        }
    }

    private static void restoreCoordinatorLog(Path copy, Path logs) throws IOException {
        try (Stream<Path> partitions = Files.list(copy)) {
            for (Path p : partitions.toList()) {
                Path target = logs.resolve(p.getFileName());
                try (Stream<Path> old = Files.walk(target)) {
                    for (Path f : old.sorted(Comparator.reverseOrder()).toList()) {
                        Files.delete(f);
                    }
                }
                copyTree(p, target);
            }
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(from.relativize(f).toString()));
            }
        }
    }
}
