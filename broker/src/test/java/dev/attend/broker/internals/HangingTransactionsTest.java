package dev.attend.broker.internals;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.broker.EmbeddedKafkaBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
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
 * Hanging transactions made on a real broker in the shape a crash leaves them: the coordinator completed a
 * transaction but its markers never reached a partition (the partition's log is put back to a copy taken before the
 * marker). The repair aborts the one its coordinator recorded as aborted, commits the one recorded as committed
 * (its records become visible, as they were before the crash), leaves one whose record no longer says how it ended,
 * and leaves a live transaction on another partition to its producer, which commits it afterwards.
 */
class HangingTransactionsTest {

    @TempDir
    Path dir;

    @Test
    void endsEachAsItsCoordinatorDecidedAndLeavesTheUndecidedAndALiveTransactionAlone() throws Exception {
        Path logs = dir.resolve("kafka").resolve("log");
        Path copies = dir.resolve("copies");
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            try (Admin admin = admin(broker)) {
                admin.createTopics(List.of(new NewTopic("aborted", 1, (short) 1), new NewTopic("committed", 1, (short) 1),
                        new NewTopic("forgotten", 1, (short) 1), new NewTopic("live", 1, (short) 1))).all().get();
            }
            for (String topic : List.of("aborted", "committed", "forgotten")) {
                KafkaProducer<String, String> producer = producer(broker, "dead-" + topic);
                try {
                    producer.initTransactions();
                    producer.beginTransaction();
                    producer.send(new ProducerRecord<>(topic, "decided", "1"));
                    producer.flush();
                    copyTree(logs.resolve(topic + "-0"), copies.resolve(topic + "-0")); // the record, not yet its marker
                    if (topic.equals("aborted")) {
                        producer.abortTransaction();
                    } else {
                        producer.commitTransaction();
                    }
                    awaitState(broker, "dead-" + topic, topic.equals("aborted") ? TransactionState.COMPLETE_ABORT : TransactionState.COMPLETE_COMMIT);
                    if (topic.equals("forgotten")) {
                        // the producer starts again: its coordinator's record moves on (Empty at a later epoch)
                        try (KafkaProducer<String, String> again = producer(broker, "dead-" + topic)) {
                            again.initTransactions();
                        }
                    }
                } finally {
                    producer.close(Duration.ZERO);
                }
            }
        }
        // the markers lost: each partition back to its copy, and a recovery on start as after a crash
        for (String topic : List.of("aborted", "committed", "forgotten")) {
            deleteTree(logs.resolve(topic + "-0"));
            copyTree(copies.resolve(topic + "-0"), logs.resolve(topic + "-0"));
        }
        try (Stream<Path> files = Files.list(logs)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith(".kafka_cleanshutdown")).toList()) {
                Files.delete(f);
            }
        }

        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"));
             KafkaProducer<String, String> live = producer(broker, "live-producer")) {
            TopicPartition aborted = new TopicPartition("aborted", 0);
            TopicPartition committed = new TopicPartition("committed", 0);
            TopicPartition forgotten = new TopicPartition("forgotten", 0);
            for (TopicPartition tp : List.of(aborted, committed, forgotten)) {
                assertThat(lastStableOffset(broker, tp)).as("%s holds its transaction open", tp).isLessThan(logEndOffset(broker, tp));
            }
            live.initTransactions();
            live.beginTransaction();
            live.send(new ProducerRecord<>("live", "in-progress", "3"));
            live.flush();

            assertThat(broker.repairHangingTransactions()).as("the transactions its coordinator aborted and committed, and only them")
                    .isEqualTo(2);
            assertThat(broker.repairHangingTransactions()).as("nothing left it may end").isZero();

            assertThat(lastStableOffset(broker, aborted)).as("read_committed readers reach the log's end").isEqualTo(logEndOffset(broker, aborted));
            assertThat(readCommitted(broker, aborted)).as("the aborted record stays invisible").isEmpty();
            assertThat(lastStableOffset(broker, committed)).as("read_committed readers reach the log's end").isEqualTo(logEndOffset(broker, committed));
            assertThat(readCommitted(broker, committed)).as("the committed record is visible, as before the crash").containsExactly("decided");
            assertThat(lastStableOffset(broker, forgotten)).as("a transaction whose end its coordinator no longer records is left")
                    .isLessThan(logEndOffset(broker, forgotten));
            // unless an earlier look saw its record say commit (what EmbeddedKafkaBroker keeps between its looks)
            try (Admin admin = admin(broker)) {
                var open = admin.describeProducers(List.of(forgotten)).partitionResult(forgotten).get().activeProducers().stream()
                        .filter(p -> p.currentTransactionStartOffset().isPresent()).findFirst().orElseThrow();
                Map<String, Boolean> ends = new HashMap<>(Map.of(
                        HangingTransactions.transactionKey(open.producerId(), open.producerEpoch()), true));
                HangingTransactions.Repair repair = HangingTransactions.repair(admin, List.of("forgotten"), ends);
                assertThat(repair.committed()).extracting(HangingTransactions.Hanging::partition).containsExactly(forgotten);
                assertThat(repair.aborted()).isEmpty();
                assertThat(repair.leftOpen()).isEmpty();
            }
            assertThat(readCommitted(broker, forgotten)).as("committed as the earlier look saw it decided").containsExactly("decided");
            live.commitTransaction();
            awaitState(broker, "live-producer", TransactionState.COMPLETE_COMMIT); // its markers follow the commit's return
            assertThat(readCommitted(broker, new TopicPartition("live", 0))).as("the live transaction committed as usual")
                    .containsExactly("in-progress");
        }
    }

    private static void awaitState(EmbeddedKafkaBroker broker, String transactionalId, TransactionState state) throws Exception {
        try (Admin admin = admin(broker)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            // the commit or abort returns before the coordinator writes the transaction complete
            while (admin.describeTransactions(List.of(transactionalId)).description(transactionalId).get().state() != state) {
                assertThat(System.nanoTime()).as("%s becomes %s", transactionalId, state).isLessThan(deadline);
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
            while (consumer.position(tp) < end) {
                assertThat(System.nanoTime()).as("%s read to its end (%d) within 30 s", tp, end).isLessThan(deadline);
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    keys.add(r.key());
                }
            }
            return keys;
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> old = Files.walk(root)) {
            for (Path f : old.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
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
