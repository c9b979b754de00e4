package dev.attend.streaming;

import static dev.attend.streaming.KvClusterTest.assertSame;
import static dev.attend.streaming.KvClusterTest.awaitTrue;
import static dev.attend.streaming.KvClusterTest.write;
import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.gpu.Scorer;
import dev.attend.index.store.Quarantine;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.KvSessionLimits;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A KV cluster instance's local snapshots on a real (embedded KRaft) broker: an instance that takes its partitions
 * back loads its files and reads the topic only after the offset they cover; files copied mid-run (what {@code kill -9}
 * leaves: journals ahead of the last manifest, sessions created and deleted after it) restore every acknowledged write
 * once; a damaged snapshot is quarantined and the partition restored from the topic alone, with the same sessions.
 */
class KvClusterSnapshotTest {

    private static final long SEED = Long.getLong("attend.test.seed", 2626L);
    private static final int PARTITIONS = 2;
    private static final String TOPIC = "kv-snapshots";
    private static final Executor INLINE = Runnable::run;

    @TempDir
    static Path dir;
    private static KvBroker kafka;
    private static EmbeddedKafkaBroker broker;
    private static Scorer scorer;

    @BeforeAll
    static void start() throws Exception {
        KvCluster.checkpointEvery = Duration.ofHours(1); // manifests only when the test says (checkpointNow, leaving)
        kafka = KvBroker.start(dir, new NewTopic(TOPIC, PARTITIONS, (short) 1));
        broker = kafka.broker();
        scorer = kafka.scorer();
    }

    @AfterAll
    static void stop() throws Exception {
        KvCluster.checkpointEvery = Duration.ofSeconds(10);
        kafka.close();
    }

    /** The only instance of its group: it owns every partition, restored from {@code snapshots}. */
    private static KvCluster alone(int port, Path snapshots) throws InterruptedException {
        KvCluster c = new KvCluster(new KvCluster.Settings(broker.bootstrapServers(), TOPIC, "kv-snapshot-test", new HostInfo("127.0.0.1", port), null,
                Duration.ofSeconds(6), 0, Map.of(), snapshots), scorer, INLINE, INLINE, KvSessionLimits.defaults());
        awaitTrue(() -> c.partitions().size() == PARTITIONS && c.partitions().values().stream().allMatch(s -> s == KvCluster.PartitionState.READY),
                "every partition served");
        return c;
    }

    @Test
    void snapshotsCutTheRestoreToTheTopicAfterThemAndNeverChangeWhatIsServed() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        KvSessionConfig config = KvSessionConfig.defaults(2, 2, 2, KvClusterTest.DIM).withStaticSet(4, 16);
        Map<String, KvSession> references = new LinkedHashMap<>();
        Path files = dir.resolve("instance");
        Path crashed = dir.resolve("copied-mid-run");
        Path damaged = dir.resolve("damaged");
        try {
            KvCluster first = alone(9201, files);
            for (int i = 0; i < 6; i++) {
                String id = "snap" + i;
                KvSession ref = new KvSession(id, config, scorer, INLINE);
                references.put(id, ref);
                write(rnd, first.create(id, config), ref, 40, 3);
            }
            first.checkpointNow();
            copy(files, damaged);
            // After the last manifest: more writes, a session created and one deleted; then the files as a kill -9 leaves them.
            for (KvSession ref : references.values()) {
                write(rnd, first.get(ref.id()), ref, 0, 2);
            }
            KvSession late = new KvSession("late", config, scorer, INLINE);
            write(rnd, first.create("late", config), late, 40, 1);
            references.put("late", late);
            assertThat(first.delete("snap0")).isTrue();
            references.remove("snap0").close();
            copy(files, crashed);
            first.close(); // leaving brings its own files up to date

            // Taken back with files up to date: nothing is read from the topic, and every session is as it was.
            KvCluster second = alone(9202, files);
            try {
                assertThat(second.snapshotRestores()).isEqualTo(PARTITIONS);
                assertThat(second.topicRecordsRestored()).as("writes read from the topic after up-to-date snapshots").isZero();
                assertServed(second, references, rnd);
                for (KvSession ref : references.values()) { // and written on, through the topic and the journals again
                    write(rnd, second.get(ref.id()), ref, 0, 1);
                }
                assertServed(second, references, rnd);
            } finally {
                second.close();
            }

            // Files as a crash left them (journals ahead of their manifest): the topic after the manifest brings the rest, once.
            KvCluster third = alone(9203, crashed);
            try {
                assertThat(third.snapshotRestores()).isEqualTo(PARTITIONS);
                assertThat(third.topicRecordsRestored()).as("writes after the manifest read from the topic").isPositive();
                assertThat(third.snapshotsQuarantined()).isZero();
                assertServed(third, references, rnd);
                assertThat(third.get("snap0")).as("deleted after the manifest").isNull();
            } finally {
                third.close();
            }

            // A flipped byte inside what a manifest covers: that partition's files are quarantined and it comes from the topic alone.
            Path journal = largestJournal(damaged);
            flipByte(journal, Files.size(journal) / 2);
            KvCluster fourth = alone(9204, damaged);
            try {
                assertThat(fourth.snapshotsQuarantined()).isEqualTo(1);
                assertThat(fourth.snapshotRestores()).isEqualTo(PARTITIONS - 1);
                assertThat(damaged.resolve(Quarantine.DIR)).isDirectory();
                assertServed(fourth, references, rnd);
                assertThat(fourth.problems()).singleElement().asString().contains("local snapshot was damaged", "restored from the topic alone");
            } finally {
                fourth.close();
            }
            // The quarantined partition has files again, made while it was restored from the topic.
            try (KvCluster fifth = alone(9205, damaged)) {
                assertThat(fifth.snapshotRestores()).isEqualTo(PARTITIONS);
                assertThat(fifth.topicRecordsRestored()).isZero();
                assertServed(fifth, references, rnd);
            }
        } finally {
            references.values().forEach(KvSession::close);
        }
    }

    private static void assertServed(KvCluster c, Map<String, KvSession> references, SplittableRandom rnd) {
        assertThat(c.ids()).containsExactlyInAnyOrderElementsOf(references.keySet());
        for (KvSession ref : references.values()) {
            KvSession s = c.get(ref.id());
            assertThat(s).as(ref.id()).isNotNull();
            assertSame(s, ref, rnd);
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> all = Files.walk(from)) {
            for (Path p : all.sorted(Comparator.naturalOrder()).toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    private static Path largestJournal(Path root) throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            return all.filter(p -> p.getFileName().toString().endsWith(KvSnapshot.SUFFIX)).max(Comparator.comparingLong(p -> p.toFile().length()))
                    .orElseThrow();
        }
    }

    private static void flipByte(Path file, long at) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x5A));
            ch.write(b.flip(), at);
        }
    }
}
