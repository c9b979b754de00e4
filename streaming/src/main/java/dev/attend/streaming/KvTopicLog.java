package dev.attend.streaming;

import dev.attend.retrieval.KvRecords;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

/**
 * Kafka as the write-ahead log of KV sessions (issue 25's first part): a session's writes, each one record of the KV
 * journal's format ({@link KvRecords}: lengths and checksums of its own), go to the session's partition
 * of a KV topic, keyed by the session id, and {@link #write} returns once every in-sync replica has them. A record
 * larger than {@code chunkBytes} travels as numbered chunks of one write; {@link #replay} applies a record only when
 * all its chunks are read, so a write cut short (the writer gone between chunks, never acknowledged) is skipped and
 * counted, never applied in part. Damage (a checksum that fails) stops a replay with the offset.
 */
public final class KvTopicLog implements AutoCloseable {

    /** Chunks of at most half of Kafka's default message limit (1 MiB), headers and batch framing included. */
    public static final int DEFAULT_CHUNK_BYTES = 512 * 1024;
    static final String CHUNK = "attend.kv.chunk";
    static final String CHUNKS = "attend.kv.chunks";
    /** A record's kind: {@code create} (its value a configuration), {@code delete}, or a write ({@code write} or none). */
    static final String TYPE = "attend.kv.type";
    private static final Duration ACK_TIMEOUT = Duration.ofSeconds(30);

    private final KafkaProducer<byte[], byte[]> producer;
    private final String topic;
    private final int partitions;
    private final int chunkBytes;

    /**
     * A writer to {@code topic}, which must exist (its partition count is read once: a session's partition is fixed
     * by it); {@code client} as {@link KafkaClientProperties} takes them (TLS, SASL).
     */
    public KvTopicLog(String bootstrapServers, String topic, int chunkBytes, Map<String, String> client) {
        if (chunkBytes < 1024) {
            throw new IllegalArgumentException("chunkBytes " + chunkBytes + " is below 1024");
        }
        Properties p = KafkaClientProperties.base(client);
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true); // a retried chunk is not doubled, and chunks stay in order
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Math.max(1 << 20, 2 * chunkBytes));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) EventProducer.MAX_BLOCK.toMillis());
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) ACK_TIMEOUT.toMillis());
        this.producer = new KafkaProducer<>(p);
        this.topic = topic;
        this.chunkBytes = chunkBytes;
        try {
            this.partitions = producer.partitionsFor(topic).size();
        } catch (KafkaException e) {
            producer.close(Duration.ZERO);
            throw new KafkaUnavailableException("the KV topic " + topic + " cannot be read at " + bootstrapServers + ": " + e.getMessage(), e);
        }
    }

    /**
     * Creates the KV topic unless it exists: {@code partitions} fix where sessions go (a count changed later moves every
     * session), no retention (the topic is the sessions' only complete log), and messages of two chunks.
     */
    public static void createTopic(Admin admin, String topic, int partitions, short replicas) throws InterruptedException {
        NewTopic t = new NewTopic(topic, partitions, replicas).configs(Map.of("retention.ms", "-1", "retention.bytes", "-1",
                "cleanup.policy", "delete", "max.message.bytes", Integer.toString(2 * DEFAULT_CHUNK_BYTES + 64 * 1024)));
        try {
            admin.createTopics(List.of(t)).all().get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new KafkaUnavailableException("cannot create the KV topic " + topic + ": " + e.getCause().getMessage(), e.getCause());
            }
        }
    }

    /** The partition of {@code topic} that holds session {@code sessionId}'s writes, of {@code partitions}. */
    public static int partitionOf(String sessionId, int partitions) {
        return Utils.toPositive(Utils.murmur2(sessionId.getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    /** This log's partition of {@code sessionId}. */
    public int partitionOf(String sessionId) {
        return partitionOf(sessionId, partitions);
    }

    /**
     * Appends {@code record} to session {@code sessionId}'s log and waits until it is acknowledged; returns the offset
     * after its last chunk (where a replay of the writes after it starts). Kafka gone is a
     * {@link KafkaUnavailableException}: the write may or may not be in the log, and a replay says which.
     */
    public long write(String sessionId, byte[] record) {
        return send(sessionId, record).await();
    }

    /**
     * Sends {@code record} without waiting ({@link Sent#await} waits): a decode step sends its layers' records one
     * after the other and waits once, for the last, since one partition acknowledges in order. A write is not
     * acknowledged before its {@code await} returns.
     */
    public Sent send(String sessionId, byte[] record) {
        byte[] key = sessionId.getBytes(StandardCharsets.UTF_8);
        int partition = partitionOf(sessionId);
        int count = Math.max(1, (record.length + chunkBytes - 1) / chunkBytes);
        List<Future<RecordMetadata>> sent = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte[] chunk = Arrays.copyOfRange(record, i * chunkBytes, Math.min(record.length, (i + 1) * chunkBytes));
            ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, partition, key, chunk);
            r.headers().add(CHUNK, intBytes(i)).add(CHUNKS, intBytes(count));
            sent.add(producer.send(r));
        }
        return new Sent(sessionId, "a write", sent);
    }

    /** A write sent ({@link #send}), acknowledged when {@link #await} returns. */
    public final class Sent {
        private final String sessionId;
        private final String what;
        private final List<Future<RecordMetadata>> chunks;

        private Sent(String sessionId, String what, List<Future<RecordMetadata>> chunks) {
            this.sessionId = sessionId;
            this.what = what;
            this.chunks = chunks;
        }

        /** Waits for every chunk's acknowledgement; returns the offset after the last ({@link #write}'s answer and failures). */
        public long await() {
            long last = -1;
            try {
                for (Future<RecordMetadata> f : chunks) {
                    last = f.get(ACK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).offset();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KafkaUnavailableException("interrupted while the KV topic " + topic + " acknowledged " + what, e);
            } catch (ExecutionException | TimeoutException e) {
                throw new KafkaUnavailableException("the KV topic " + topic + " did not acknowledge " + what + " of session " + sessionId + ": "
                        + (e.getCause() == null ? e : e.getCause()).toString(), e);
            }
            return last + 1;
        }
    }

    /**
     * Records the creation of session {@code sessionId} with {@code config} (before its first write): what
     * {@link #restoreAll} opens it from.
     */
    public long create(String sessionId, KvSessionConfig config) {
        return sendLifecycle(sessionId, KvRecords.config(config), "create");
    }

    /** Records the deletion of session {@code sessionId}: {@link #restoreAll} closes it there. */
    public long delete(String sessionId) {
        return sendLifecycle(sessionId, new byte[0], "delete");
    }

    private long sendLifecycle(String sessionId, byte[] value, String type) {
        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, partitionOf(sessionId), sessionId.getBytes(StandardCharsets.UTF_8), value);
        r.headers().add(TYPE, type.getBytes(StandardCharsets.UTF_8));
        return new Sent(sessionId, "the " + type, List.of(producer.send(r))).await();
    }

    /** What a {@link #replay} read: the offset it stopped at, records applied, and writes cut short (skipped). */
    public record Replayed(long nextOffset, long records, long cutShort) {
    }

    /**
     * Applies session {@code sessionId}'s writes from {@code fromOffset} of its partition to {@code session}, in
     * order ({@link KvRecords#apply}), up to the partition's end when the replay began; its creation and deletion
     * records are not writes and are passed over ({@link #restoreAll} follows them). A record whose checksum fails
     * stops the replay with an {@link IOException} naming its offset (what was applied before it stays applied).
     */
    public static Replayed replay(String bootstrapServers, String topic, String sessionId, long fromOffset, KvSession session,
                                  Map<String, String> client) throws IOException {
        long[] counts = new long[1];
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrapServers, client)) {
            int partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).size();
            TopicPartition tp = new TopicPartition(topic, partitionOf(sessionId, partitions));
            long[] end = new long[1];
            long cutShort = read(consumer, tp, fromOffset, sessionId, (kind, id, offset, bytes) -> {
                if (kind == Kind.WRITE) {
                    apply(topic, offset, id, bytes, session);
                    counts[0]++;
                }
            }, end);
            return new Replayed(end[0], counts[0], cutShort);
        } catch (KafkaException e) {
            throw new KafkaUnavailableException("the KV topic " + topic + " cannot be read at " + bootstrapServers + ": " + e.getMessage(), e);
        }
    }

    /**
     * Opens a session of {@code config} named {@code id}, created at {@code offset} of the topic, for {@link #restoreAll}
     * (with the owner's scorer and threads).
     */
    @FunctionalInterface
    public interface SessionFactory {
        KvSession open(String id, KvSessionConfig config, long offset);
    }

    /**
     * What {@link #restoreAll} rebuilt: the live sessions by id, writes applied, writes cut short (skipped), and the
     * offset the read stopped at (of the one partition {@link #restore} read; 0 for several).
     */
    public record Restored(Map<String, KvSession> sessions, long records, long cutShort, long nextOffset) {
    }

    /**
     * Rebuilds every session that {@code partitions} of {@code topic} hold, from the topic alone (what a new owner of
     * those partitions does with no local copy): creations open sessions through {@code factory}, writes apply in
     * order, deletions close them (a write after its session's deletion, sent as it was deleted, is passed over). A
     * write of a session the topic never created (its creation lost to the topic's retention, which a KV topic must
     * not have) or damage is an {@link IOException} naming its offset, and the sessions opened so far are closed.
     */
    public static Restored restoreAll(String bootstrapServers, String topic, List<Integer> partitions, SessionFactory factory,
                                      Map<String, String> client) throws IOException {
        return restore(bootstrapServers, topic, partitions, 0, Map.of(), factory, client);
    }

    /**
     * Brings {@code held}, partition {@code partition}'s sessions as they were at offset {@code from} (a local
     * snapshot's), up to the partition's end as {@link #restoreAll} does from the start; on failure {@code held} is
     * closed too.
     */
    public static Restored restore(String bootstrapServers, String topic, int partition, long from, Map<String, KvSession> held,
                                   SessionFactory factory, Map<String, String> client) throws IOException {
        return restore(bootstrapServers, topic, List.of(partition), from, held, factory, client);
    }

    private static Restored restore(String bootstrapServers, String topic, List<Integer> partitions, long from, Map<String, KvSession> held,
                                    SessionFactory factory, Map<String, String> client) throws IOException {
        Sessions live = new Sessions(topic, factory);
        live.live.putAll(held);
        live.heldAreAll = from > 0;
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrapServers, client)) {
            long cutShort = 0;
            long[] end = new long[1];
            for (int partition : partitions) {
                cutShort += read(consumer, new TopicPartition(topic, partition), from, null, live, end);
            }
            return new Restored(live.live, live.records, cutShort, partitions.size() == 1 ? end[0] : 0);
        } catch (IOException | RuntimeException e) {
            live.closeAll();
            if (e instanceof KafkaException k) {
                throw new KafkaUnavailableException("the KV topic " + topic + " cannot be read at " + bootstrapServers + ": " + k.getMessage(), k);
            }
            throw e;
        }
    }

    /**
     * The sessions of a topic's records applied in offset order, as a new owner rebuilds them: creations open sessions
     * through the factory, writes apply, deletions close them; for {@link #restoreAll} and a standby that follows a
     * partition as it grows.
     */
    static final class Sessions implements RecordHandler {
        private final String topic;
        private final SessionFactory factory;
        final Map<String, KvSession> live = new LinkedHashMap<>();
        /** Sessions this read saw deleted: a write of one after its deletion (it raced the deletion) is passed over. */
        private final Set<String> deleted = new HashSet<>();
        /** Whether the sessions held at the start are all that lived there (a snapshot's): others were deleted before. */
        boolean heldAreAll;
        long records;
        long afterDeletion;

        Sessions(String topic, SessionFactory factory) {
            this.topic = topic;
            this.factory = factory;
        }

        @Override
        public void accept(Kind kind, String id, long offset, byte[] bytes) throws IOException {
            switch (kind) {
                case CREATE -> {
                    deleted.remove(id);
                    KvSessionConfig config = KvRecords.readConfig(bytes, "KV topic " + topic + " offset " + offset);
                    KvSession old = live.put(id, factory.open(id, config, offset));
                    if (old != null) {
                        old.close();
                    }
                }
                case DELETE -> {
                    deleted.add(id);
                    KvSession gone = live.remove(id);
                    if (gone != null) {
                        gone.close();
                    }
                }
                case WRITE -> {
                    KvSession s = live.get(id);
                    if (s == null && (deleted.contains(id) || heldAreAll)) { // a write that raced its session's deletion
                        afterDeletion++;
                        return;
                    }
                    if (s == null) {
                        throw new IOException("KV topic " + topic + " offset " + offset + ": a write of session " + id
                                + ", which the topic does not create before it (a topic with retention loses sessions)");
                    }
                    apply(topic, offset, id, bytes, s);
                    records++;
                }
            }
        }

        void closeAll() {
            live.values().forEach(KvSession::close);
            live.clear();
        }
    }

    /** What a record of the KV topic is. */
    enum Kind {
        CREATE, WRITE, DELETE
    }

    /** A whole record read from the topic (its chunks joined). */
    @FunctionalInterface
    interface RecordHandler {
        void accept(Kind kind, String sessionId, long offset, byte[] bytes) throws IOException;
    }

    /** A consumer of the KV topic's records as they are (no group, no commits; only what transactions committed). */
    static KafkaConsumer<byte[], byte[]> consumer(String bootstrapServers, Map<String, String> client) {
        Properties p = KafkaClientProperties.base(client);
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        return new KafkaConsumer<>(p);
    }

    private static void apply(String topic, long offset, String id, byte[] record, KvSession session) throws IOException {
        try {
            KvRecords.apply(record, session);
        } catch (IOException e) {
            throw new IOException("KV topic " + topic + " offset " + offset + " (session " + id + "): " + e.getMessage(), e);
        }
    }

    /**
     * Reads {@code tp} from {@code from} to its end when called ({@code end[0]}), joining each session's chunks into
     * whole records for {@code handler} (only session {@code only}'s when not null); returns the writes cut short.
     */
    private static long read(KafkaConsumer<byte[], byte[]> consumer, TopicPartition tp, long from, String only, RecordHandler handler,
                             long[] end) throws IOException {
        consumer.assign(List.of(tp));
        end[0] = consumer.endOffsets(List.of(tp), Duration.ofSeconds(10)).get(tp);
        consumer.seek(tp, from);
        byte[] onlyKey = only == null ? null : only.getBytes(StandardCharsets.UTF_8);
        Joiner joiner = new Joiner(tp.topic());
        while (consumer.position(tp) < end[0]) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                if (r.offset() >= end[0]) {
                    break;
                }
                if (onlyKey == null || Arrays.equals(onlyKey, r.key())) {
                    joiner.accept(r, handler);
                }
            }
        }
        return joiner.cutShort() + joiner.pending();
    }

    /**
     * Joins the chunks of each session's writes, read in offset order, into whole records: a write cut short (its writer
     * gone between chunks, never acknowledged) is skipped and counted, never handed on in part.
     */
    static final class Joiner {
        private final String topic;
        private final Map<String, Pending> pending = new HashMap<>(); // per session: the chunks of the write being read
        private long cutShort;

        Joiner(String topic) {
            this.topic = topic;
        }

        /** Takes one record of the topic; hands on what it completes. */
        void accept(ConsumerRecord<byte[], byte[]> r, RecordHandler handler) throws IOException {
            if (r.key() == null) {
                return;
            }
            String id = new String(r.key(), StandardCharsets.UTF_8);
            Kind kind = kind(r);
            if (kind != Kind.WRITE) {
                if (pending.remove(id) != null) {
                    cutShort++;
                }
                handler.accept(kind, id, r.offset(), r.value() == null ? new byte[0] : r.value());
                return;
            }
            int chunk = intHeader(r, CHUNK);
            int chunks = intHeader(r, CHUNKS);
            if (chunk < 0 || chunks < 1 || chunk >= chunks) {
                throw new IOException("KV topic " + topic + " offset " + r.offset() + ": chunk " + chunk + " of " + chunks);
            }
            Pending p = pending.get(id);
            if (chunk == 0) {
                if (p != null) {
                    cutShort++; // a write cut short before its last chunk: never acknowledged
                }
                p = new Pending(r.offset(), chunks, new ArrayList<>(Math.min(chunks, 1024)));
                pending.put(id, p);
            } else if (p == null || chunks != p.expected) {
                pending.remove(id); // the rest of a write whose first chunk was before the read's start
                return;
            }
            if (chunk != p.parts.size()) {
                throw new IOException("KV topic " + topic + " offset " + r.offset() + ": chunk " + chunk + " where chunk "
                        + p.parts.size() + " was due");
            }
            p.parts.add(r.value());
            if (chunk == chunks - 1) {
                pending.remove(id);
                handler.accept(Kind.WRITE, id, p.start, concat(p.parts));
            }
        }

        /** Writes cut short so far (another write of the session came before their last chunk). */
        long cutShort() {
            return cutShort;
        }

        /** Writes whose last chunk has not been read yet. */
        int pending() {
            return pending.size();
        }
    }

    private record Pending(long start, int expected, List<byte[]> parts) {
    }

    private static Kind kind(ConsumerRecord<byte[], byte[]> r) throws IOException {
        Header h = r.headers().lastHeader(TYPE);
        if (h == null) {
            return Kind.WRITE;
        }
        String v = new String(h.value(), StandardCharsets.UTF_8);
        return switch (v) {
            case "create" -> Kind.CREATE;
            case "delete" -> Kind.DELETE;
            case "write" -> Kind.WRITE;
            default -> throw new IOException("KV topic " + r.topic() + " offset " + r.offset() + ": a record of type " + v);
        };
    }

    private static byte[] concat(List<byte[]> parts) {
        int length = 0;
        for (byte[] b : parts) {
            length = Math.addExact(length, b.length);
        }
        ByteBuffer out = ByteBuffer.allocate(length);
        parts.forEach(out::put);
        return out.array();
    }

    private static byte[] intBytes(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    private static int intHeader(ConsumerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null || h.value().length != 4 ? -1 : ByteBuffer.wrap(h.value()).getInt();
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
