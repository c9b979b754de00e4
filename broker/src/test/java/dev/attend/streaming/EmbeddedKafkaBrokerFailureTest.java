package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.broker.EventStreaming;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BehaviorSequence;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded broker's log directory fails (a full disk, or the directory gone): Kafka would end the process
 * (it halts on a failed metadata log directory); here the broker stops, its failure is reported, this JVM goes on,
 * a send fails at once, and the topology's local reads still answer.
 */
class EmbeddedKafkaBrokerFailureTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("EmbeddedKafkaBrokerFailureTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    Path dir;

    /** A full disk: a 4 MiB tmpfs under the log, filled by events (where mounting is not allowed: the other way). */
    @Test
    void aFullDiskStopsTheBrokerNotTheProcess() throws Exception {
        Path mount = dir.resolve("kafka");
        Files.createDirectories(mount);
        String how;
        if (mountTmpfs(mount, "4m")) {
            how = "a 4 MiB tmpfs filled with events";
        } else {
            how = "the log directory replaced by a file (mounting a tmpfs is not allowed here)";
            mount = null;
        }
        System.out.println("[broker failure] log directory failed by " + how);
        try {
            failAndCheck(dir.resolve("kafka"), mount != null);
        } finally {
            if (mount != null) {
                unmount(mount);
            }
        }
    }

    /** The log directory replaced by a file while the broker runs (its next checkpoint write fails). */
    @Test
    void aLogDirectoryReplacedByAFileStopsTheBrokerNotTheProcess() throws Exception {
        System.out.println("[broker failure] log directory failed by the log directory replaced by a file");
        failAndCheck(dir.resolve("kafka"), false);
    }

    private void failAndCheck(Path kafkaDir, boolean fillDisk) throws Exception {
        EventTopics topics = EventTopics.defaults();
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(kafkaDir);
        long closing = 0;
        try {
            SequenceStreamTest.createTopics(broker, topics);
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics,
                    new SequenceStream.Options("failure-test", new HostInfo("localhost", 1), dir.resolve("state"), 1000, Duration.ofMillis(100)));
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), topics, broker::failure)) {
                assertThat(stream.awaitRunning(Duration.ofSeconds(60))).isTrue();
                producer.send(List.of(new StreamEvent(new BehaviorEvent(7, 1, 1, "pv", 100))));
                awaitVersion(stream, 7, 1);
                assertThat(broker.failure()).isEmpty();

                long failedAt = System.nanoTime();
                if (fillDisk) {
                    SplittableRandom rnd = new SplittableRandom(SEED + 3);
                    long sent = 0;
                    // random items and contexts: little for lz4 to squeeze
                    while (broker.failure().isEmpty() && sent < 2_000_000) {
                        List<StreamEvent> batch = new ArrayList<>();
                        for (int i = 0; i < 2_000; i++) {
                            batch.add(new StreamEvent(new BehaviorEvent(1_000 + rnd.nextInt(1_000), rnd.nextLong(1L << 60), rnd.nextInt(1 << 30), "pv",
                                    1_000 + sent + i), Map.of("page", Long.toHexString(rnd.nextLong()))));
                        }
                        try {
                            producer.send(batch);
                        } catch (IllegalStateException refused) {
                            break; // the disk is full: the broker fails now or soon
                        }
                        sent += batch.size();
                    }
                    System.out.printf("[broker failure] %,d events sent until the disk was full%n", sent);
                } else {
                    Path log = kafkaDir.resolve("log");
                    Files.move(log, kafkaDir.resolve("log.moved"));
                    Files.writeString(log, "not a directory");
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                while (broker.failure().isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                Optional<String> failure = broker.failure();
                System.out.printf("[broker failure] reported %.1f s after the log directory failed: %s%n", (System.nanoTime() - failedAt) / 1e9,
                        failure.orElse("(nothing)"));
                assertThat(failure).as("the broker's failure is reported").isPresent();
                assertThat(Thread.currentThread().isAlive()).as("this JVM goes on").isTrue();

                long before = System.nanoTime();
                Throwable refused = catchThrowable(() -> producer.send(List.of(new StreamEvent(new BehaviorEvent(7, 2, 1, "pv", 200)))));
                double sendSeconds = (System.nanoTime() - before) / 1e9;
                System.out.printf("[broker failure] a send after it: %s in %.3f s%n", refused, sendSeconds);
                assertThat(refused).isInstanceOf(KafkaUnavailableException.class).hasMessageContaining("stopped");

                // the topology's local store still answers reads (Kafka Streams keeps running on it for a while)
                BehaviorSequence s = stream.get(7);
                System.out.printf("[broker failure] topology %s; user 7 read from its store: %d events%n", stream.state(), s.length());
                assertThat(s.length()).isEqualTo(1);
                closing = System.nanoTime();
                stream.close(Duration.ofSeconds(2)); // as EventStreaming closes it after its broker failed
            }
            System.out.printf("[broker failure] the topology and the producer closed in %.1f s%n", (System.nanoTime() - closing) / 1e9);
        } finally {
            long t = System.nanoTime();
            broker.close(); // after its failure: returns once the broker has shut down
            System.out.printf("[broker failure] the broker closed in %.1f s%n", (System.nanoTime() - t) / 1e9);
        }
        assertThat(broker.failure()).isPresent();
    }

    private static void awaitVersion(SequenceStream stream, long user, long version) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (stream.version(user) >= version) {
                    return;
                }
            } catch (IllegalStateException notYet) {
                // restoring
            }
            Thread.sleep(20);
        }
        throw new AssertionError("user " + user + " did not reach version " + version);
    }

    private static boolean mountTmpfs(Path at, String size) {
        try {
            Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", at.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            int code = p.waitFor();
            if (code != 0) {
                System.out.println("[broker failure] mount: " + out.strip());
            }
            return code == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static void unmount(Path at) throws Exception {
        if (new ProcessBuilder("umount", at.toString()).start().waitFor() != 0) {
            new ProcessBuilder("umount", "-l", at.toString()).start().waitFor();
        }
    }
}
