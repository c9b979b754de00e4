package dev.attend.streaming;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.gpu.Scorer;
import dev.attend.retrieval.KvRecords;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionClosedException;
import dev.attend.retrieval.KvSessionConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** KV sessions' writes through a real (embedded KRaft) broker and back: the topic alone restores a session. */
class KvTopicLogTest {

    private static final long SEED = Long.getLong("attend.test.seed", 25L);
    private static final int DIM = 16;
    private static final Executor INLINE = Runnable::run;

    @TempDir
    static Path dir;
    private static KvBroker kafka;
    private static EmbeddedKafkaBroker broker;
    private static Scorer scorer;

    @BeforeAll
    static void start() throws Exception {
        kafka = KvBroker.start(dir, new NewTopic("kv-a", 3, (short) 1), new NewTopic("kv-b", 1, (short) 1), new NewTopic("kv-c", 2, (short) 1), new NewTopic("kv-d", 1, (short) 1), new NewTopic("kv-e", 1, (short) 1), new NewTopic("kv-f", 1, (short) 1));
        broker = kafka.broker();
        scorer = kafka.scorer();
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    private static KvSessionConfig config() {
        return KvSessionConfig.defaults(2, 2, 2, DIM).withStaticSet(4, 16);
    }

    @Test
    void aSessionWrittenThroughTheTopicIsRestoredFromItAloneAndOthersOnItsPartitionAreLeftOut() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        KvSessionConfig config = config();
        // Another session whose writes share a's partition, between a's.
        String otherId = "b";
        for (int i = 0; KvTopicLog.partitionOf(otherId, 3) != KvTopicLog.partitionOf("a", 3); i++) {
            otherId = "b" + i;
        }
        try (KvTopicLog log = new KvTopicLog(broker.bootstrapServers(), "kv-a", 4096, Map.of());
             KvSession original = new KvSession("a", config, scorer, INLINE);
             KvSession other = new KvSession(otherId, config, scorer, INLINE)) {
            assertThat(log.partitionOf(otherId)).isEqualTo(log.partitionOf("a"));
            int tokens = 300;
            for (int layer = 0; layer < 2; layer++) {
                for (int h = 0; h < 2; h++) {
                    for (int from = 0; from < tokens; from += 100) { // chunks of 100 tokens, each a 4 KiB chunked write
                        float[][] keys = rows(rnd, 100);
                        float[][] values = rows(rnd, 100);
                        float[][] queries = rows(rnd, 50);
                        int[] heads = rnd.ints(50, h * 2, h * 2 + 2).toArray();
                        original.prefill(layer, h, from, keys, values, queries, heads, true);
                        log.write("a", KvRecords.prefill(layer, h, from, keys, values, queries, heads));
                        if (from == 0) {
                            float[][] k = rows(rnd, 10);
                            float[][] q = rows(rnd, 2);
                            other.prefill(layer, h, 0, k, k, q, null, true);
                            log.write(other.id(), KvRecords.prefill(layer, h, 0, k, k, q, null));
                        }
                    }
                }
            }
            for (int step = 0; step < 20; step++) {
                for (int layer = 0; layer < 2; layer++) {
                    float[][] keys = rows(rnd, 2);
                    float[][] values = rows(rnd, 2);
                    original.decodeLayer(layer, tokens + step, keys, values, rows(rnd, 4), KvSession.DEFAULT_BUDGET);
                    log.write("a", KvRecords.appendLayer(layer, tokens + step, keys, values));
                }
            }
            try (KvSession restored = new KvSession("a", config, scorer, INLINE)) {
                KvTopicLog.Replayed r = KvTopicLog.replay(broker.bootstrapServers(), "kv-a", "a", 0, restored, Map.of());
                assertThat(r.records()).isEqualTo(2 * 2 * 3 + 20 * 2);
                assertThat(r.cutShort()).isZero();
                assertSameData(original, restored, rnd);
            }
            try (KvSession restored = new KvSession(otherId, config, scorer, INLINE)) {
                assertThat(KvTopicLog.replay(broker.bootstrapServers(), "kv-a", otherId, 0, restored, Map.of()).records()).isEqualTo(4);
                assertSameData(other, restored, rnd);
            }
        }
    }

    @Test
    void aWriteCutShortIsSkippedAndDamageStopsTheReplayWithItsOffset() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        KvSessionConfig config = config();
        float[][] keys = rows(rnd, 200);
        float[][] queries = rows(rnd, 20);
        byte[] prefill = KvRecords.prefill(0, 0, 0, keys, keys, queries, null);
        try (KvTopicLog log = new KvTopicLog(broker.bootstrapServers(), "kv-b", 4096, Map.of());
             KafkaProducer<byte[], byte[]> raw = rawProducer();
             KvSession original = new KvSession("c", config, scorer, INLINE)) {
            // A writer gone after the first chunk of three (never acknowledged), then the write made again whole.
            raw.send(chunk("kv-b", "c", prefill, 0, 4096, 0, 3)).get();
            log.write("c", prefill);
            original.prefill(0, 0, 0, keys, keys, queries, null, true);
            float[] key = rows(rnd, 1)[0];
            log.write("c", KvRecords.append(0, 0, 200, key, key));
            original.append(0, 0, 200, key, key);
            try (KvSession restored = new KvSession("c", config, scorer, INLINE)) {
                KvTopicLog.Replayed r = KvTopicLog.replay(broker.bootstrapServers(), "kv-b", "c", 0, restored, Map.of());
                assertThat(r.records()).isEqualTo(2);
                assertThat(r.cutShort()).as("the chunk of the write cut short").isEqualTo(1);
                assertThat(restored.length(0, 0)).isEqualTo(201);
                assertSameData(original, restored, rnd);
                long end = r.nextOffset();

                // A record damaged on the way (one byte of its body flipped): the replay stops there and says where.
                byte[] damaged = KvRecords.append(0, 0, 201, key, key).clone();
                damaged[damaged.length - 10] ^= 0x40;
                raw.send(chunk("kv-b", "c", damaged, 0, damaged.length, 0, 1)).get();
                assertThatThrownBy(() -> KvTopicLog.replay(broker.bootstrapServers(), "kv-b", "c", end, restored, Map.of()))
                        .isInstanceOf(IOException.class).hasMessageContaining("offset " + end).hasMessageContaining("checksum");
                assertThat(restored.length(0, 0)).as("nothing applied").isEqualTo(201);
            }
        }
    }

    @Test
    void everySessionOfAPartitionIsRestoredFromTheTopicAloneFollowingCreationsAndDeletions() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        KvSessionConfig config = config();
        KvSessionConfig other = KvSessionConfig.defaults(1, 1, 1, DIM);
        try (KvTopicLog log = new KvTopicLog(broker.bootstrapServers(), "kv-c", 4096, Map.of());
             KvSession kept = new KvSession("kept", config, scorer, INLINE);
             KvSession again = new KvSession("again", other, scorer, INLINE)) {
            log.create("kept", config);
            log.create("gone", config);
            log.create("again", config);
            for (String id : List.of("kept", "gone", "again")) {
                float[][] keys = rows(rnd, 120);
                float[][] queries = rows(rnd, 10);
                log.write(id, KvRecords.prefill(0, 1, 0, keys, keys, queries, null));
                if (id.equals("kept")) {
                    kept.prefill(0, 1, 0, keys, keys, queries, null, true);
                }
            }
            log.delete("gone");
            log.delete("again");
            log.create("again", other); // a new session under the old id: only what follows belongs to it
            float[][] keys = rows(rnd, 30);
            log.write("again", KvRecords.prefill(0, 0, 0, keys, keys, new float[0][], null));
            again.prefill(0, 0, 0, keys, keys, new float[0][], null, true);

            KvTopicLog.Restored r = KvTopicLog.restoreAll(broker.bootstrapServers(), "kv-c", List.of(0, 1),
                    (id, c, at) -> new KvSession(id, c, scorer, INLINE), Map.of());
            try {
                assertThat(r.sessions().keySet()).containsExactlyInAnyOrder("kept", "again");
                assertThat(r.records()).isEqualTo(4);
                assertThat(r.cutShort()).isZero();
                assertSameData(kept, r.sessions().get("kept"), rnd);
                KvSession restoredAgain = r.sessions().get("again");
                assertThat(restoredAgain.config().layers()).isEqualTo(1);
                assertThat(restoredAgain.length(0, 0)).isEqualTo(30);
                float[] q = rows(rnd, 1)[0];
                assertThat(restoredAgain.attendExact(0, 0, q).output()).containsExactly(again.attendExact(0, 0, q).output(), Offset.offset(1e-5f)); // the JIT may change the last bits between calls
            } finally {
                r.sessions().values().forEach(KvSession::close);
            }
        }
    }

    @Test
    void aWriteOfASessionTheTopicNeverCreatedStopsTheRestoreAndClosesWhatItOpened() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        List<KvSession> opened = new ArrayList<>();
        try (KvTopicLog log = new KvTopicLog(broker.bootstrapServers(), "kv-d", 4096, Map.of())) {
            log.create("fine", config());
            float[] key = rows(rnd, 1)[0];
            log.write("orphan", KvRecords.append(0, 0, 0, key, key)); // its creation lost (a topic with retention)
            assertThatThrownBy(() -> KvTopicLog.restoreAll(broker.bootstrapServers(), "kv-d", List.of(0), (id, c, at) -> {
                KvSession s = new KvSession(id, c, scorer, INLINE);
                opened.add(s);
                return s;
            }, Map.of())).isInstanceOf(IOException.class).hasMessageContaining("orphan").hasMessageContaining("does not create");
            assertThat(opened).hasSize(1);
            assertThatThrownBy(() -> opened.getFirst().append(0, 0, 0, key, key)).as("closed").isInstanceOf(KvSessionClosedException.class);
        }
    }

    @Test
    void aWriteThatRacedItsSessionsDeletionIsPassedOverNotAFailure() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        try (KvTopicLog log = new KvTopicLog(broker.bootstrapServers(), "kv-f", 4096, Map.of())) {
            log.create("kept", config());
            log.create("gone", config());
            float[] key = rows(rnd, 1)[0];
            log.write("gone", KvRecords.append(0, 0, 0, key, key));
            log.delete("gone");
            log.write("gone", KvRecords.append(0, 0, 1, key, key)); // sent as the deletion was: after it in the topic
            log.write("kept", KvRecords.append(0, 0, 0, key, key));
            KvTopicLog.Restored r = KvTopicLog.restoreAll(broker.bootstrapServers(), "kv-f", List.of(0), (id, c, at) -> new KvSession(id, c, scorer, INLINE),
                    Map.of());
            try {
                assertThat(r.sessions().keySet()).containsExactly("kept");
                assertThat(r.sessions().get("kept").length(0, 0)).isEqualTo(1);
                assertThat(r.records()).as("writes applied: gone's first, kept's").isEqualTo(2);
            } finally {
                r.sessions().values().forEach(KvSession::close);
            }
        }
    }

    @Test
    void writesSentTogetherAndWaitedForOnceReplayInTheOrderSent() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        KvSessionConfig config = KvSessionConfig.defaults(3, 1, 1, DIM);
        try (KvTopicLog log = new KvTopicLog(broker.bootstrapServers(), "kv-e", 4096, Map.of());
             KvSession original = new KvSession("piped", config, scorer, INLINE)) {
            log.create("piped", config);
            for (int step = 0; step < 10; step++) {
                KvTopicLog.Sent last = null;
                for (int layer = 0; layer < 3; layer++) { // a decode step: every layer sent, the last one waited for
                    float[] key = rows(rnd, 1)[0];
                    original.append(layer, 0, step, key, key);
                    last = log.send("piped", KvRecords.append(layer, 0, step, key, key));
                }
                last.await();
            }
            KvTopicLog.Restored r = KvTopicLog.restoreAll(broker.bootstrapServers(), "kv-e", List.of(0),
                    (id, c, at) -> new KvSession(id, c, scorer, INLINE), Map.of());
            try {
                assertThat(r.records()).isEqualTo(30);
                KvSession restored = r.sessions().get("piped");
                for (int layer = 0; layer < 3; layer++) {
                    assertThat(restored.length(layer, 0)).isEqualTo(10);
                    float[] q = rows(rnd, 1)[0];
                    assertThat(restored.attendExact(layer, 0, q).output()).containsExactly(original.attendExact(layer, 0, q).output(), Offset.offset(1e-5f)); // the JIT may change the last bits between calls
                }
            } finally {
                r.sessions().values().forEach(KvSession::close);
            }
        }
    }

    @Test
    void aTopicThatDoesNotExistIsAClearError() {
        assertThatThrownBy(() -> new KvTopicLog(broker.bootstrapServers(), "no-such-kv-topic", 4096, Map.of()).close())
                .isInstanceOf(KafkaUnavailableException.class).hasMessageContaining("no-such-kv-topic");
        assertThatThrownBy(() -> new KvTopicLog(broker.bootstrapServers(), "kv-a", 100, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1024");
    }

    /** The same keys and values in every head: exact attention of random queries answers bit for bit alike. */
    private static void assertSameData(KvSession a, KvSession b, SplittableRandom rnd) {
        for (int layer = 0; layer < 2; layer++) {
            for (int h = 0; h < 2; h++) {
                assertThat(b.length(layer, h)).isEqualTo(a.length(layer, h));
            }
            for (int q = 0; q < 4; q++) {
                float[] query = rows(rnd, 1)[0];
                assertThat(b.attendExact(layer, q, query).output()).as("layer %d query head %d", layer, q)
                        .isEqualTo(a.attendExact(layer, q, query).output());
            }
        }
    }

    private static KafkaProducer<byte[], byte[]> rawProducer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return new KafkaProducer<>(p);
    }

    private static ProducerRecord<byte[], byte[]> chunk(String topic, String session, byte[] record, int from, int to, int index, int count) {
        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, KvTopicLog.partitionOf(session, 1),
                session.getBytes(StandardCharsets.UTF_8), Arrays.copyOfRange(record, from, Math.min(to, record.length)));
        r.headers().add(KvTopicLog.CHUNK, ByteBuffer.allocate(4).putInt(index).array())
                .add(KvTopicLog.CHUNKS, ByteBuffer.allocate(4).putInt(count).array());
        return r;
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        float[][] out = new float[n][DIM];
        for (float[] row : out) {
            for (int i = 0; i < DIM; i++) {
                row[i] = (float) rnd.nextGaussian();
            }
        }
        return out;
    }
}
