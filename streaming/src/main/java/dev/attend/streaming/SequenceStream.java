package dev.attend.streaming;

import dev.attend.recsys.serving.BehaviorSequence;
import dev.attend.recsys.serving.SequenceSource;
import dev.attend.streaming.internals.MetaStore;
import dev.attend.streaming.internals.SequenceKeys;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka Streams application that keeps every user's behaviour sequence from the events topic: a persistent
 * state store (RocksDB under {@code stateDir}, with a changelog topic that restores it on another instance),
 * exactly-once processing (an event is applied once, even across a crash), records that are not events sent to
 * the dead-letter topic with the reason. Several instances with the same application id share the partitions
 * (and so the users); {@link #ownerOf} says which instance holds a user, for a request to be forwarded there.
 * Reads ({@link #get}, {@link #version}) answer from this instance's share.
 */
public final class SequenceStream implements SequenceSource, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SequenceStream.class);

    /** The store of users' behaviours, one row each (persistent, with a changelog; {@code SequenceKeys}). */
    public static final String STORE = "sequence-events";
    /** Each user's version, length and latest time, rebuilt from {@link #STORE} when missing (in memory, no changelog). */
    public static final String META_STORE = "sequence-meta";
    /** Users whose meta values the meta store keeps (about 150 bytes each); the least recently used make room. */
    static final int META_USERS = 1 << 20;
    /** The application id of a deployment that names none. */
    public static final String DEFAULT_APPLICATION_ID = "attend-sequences";
    /** The longest sequence kept per user unless configured. */
    public static final int DEFAULT_MAX_PER_USER = 10_000;

    private final KafkaStreams streams;
    private final HostInfo self;
    private final AtomicLong deadLettered = new AtomicLong();
    private final AtomicLong rerouted = new AtomicLong();

    /**
     * Configuration of one instance: the application id (shared by all instances), where this instance answers
     * (host:port of its HTTP server, for forwarding), its state directory, the longest sequence kept, how often
     * work is committed, and the stream threads (one per core by default: on 2 cores one thread applied 30% fewer
     * events than two).
     */
    public record Options(String applicationId, HostInfo endpoint, Path stateDir, int maxPerUser, Duration commitInterval, int threads,
                          Set<String> behaviors) {

        /** @param behaviors the actions an event may carry (others are dead-lettered with the reason); empty: any */
        public Options {
            if (maxPerUser < 1 || threads < 1 || commitInterval.isNegative() || commitInterval.isZero()) {
                throw new IllegalArgumentException("maxPerUser and threads must be >= 1 and the commit interval > 0");
            }
            behaviors = Set.copyOf(behaviors);
        }

        public Options(String applicationId, HostInfo endpoint, Path stateDir, int maxPerUser, Duration commitInterval, int threads) {
            this(applicationId, endpoint, stateDir, maxPerUser, commitInterval, threads, Set.of());
        }

        public Options(String applicationId, HostInfo endpoint, Path stateDir, int maxPerUser, Duration commitInterval) {
            this(applicationId, endpoint, stateDir, maxPerUser, commitInterval, Runtime.getRuntime().availableProcessors());
        }

        public static Options defaults(Path stateDir, HostInfo endpoint) {
            return new Options(DEFAULT_APPLICATION_ID, endpoint, stateDir, DEFAULT_MAX_PER_USER, Duration.ofMillis(100));
        }

        public Options withApplicationId(String id) {
            return new Options(id, endpoint, stateDir, maxPerUser, commitInterval, threads, behaviors);
        }

        public Options withMaxPerUser(int max) {
            return new Options(applicationId, endpoint, stateDir, max, commitInterval, threads, behaviors);
        }

        public Options withBehaviors(Set<String> actions) {
            return new Options(applicationId, endpoint, stateDir, maxPerUser, commitInterval, threads, actions);
        }
    }

    public SequenceStream(String bootstrapServers, EventTopics topics, Options options) {
        this(bootstrapServers, topics, options, Map.of());
    }

    /** The same, with a cluster's client settings ({@link KafkaClientProperties}), which all its clients take. */
    public SequenceStream(String bootstrapServers, EventTopics topics, Options options, Map<String, String> client) {
        this.self = options.endpoint();
        Properties p = KafkaClientProperties.base(client);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, options.applicationId());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, options.endpoint().host() + ":" + options.endpoint().port());
        p.put(StreamsConfig.STATE_DIR_CONFIG, options.stateDir().toString());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) topics.replicas());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, (int) options.commitInterval().toMillis());
        p.put(StreamsConfig.consumerPrefix("max.poll.records"), 5000);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, options.threads());
        // Batches: a fetch waits for 64 KiB (or 20 ms) instead of returning each record as it comes, and the
        // changelog goes compressed; both cut the broker's work per event several times.
        p.put(StreamsConfig.consumerPrefix("fetch.min.bytes"), 64 * 1024);
        p.put(StreamsConfig.consumerPrefix("fetch.max.wait.ms"), 20);
        p.put(StreamsConfig.producerPrefix("compression.type"), "lz4");
        p.put(StreamsConfig.producerPrefix("batch.size"), 256 * 1024);
        // Static membership: an instance that restarts (after a crash too) takes its partitions back at once,
        // instead of waiting for the group to notice the old member is gone (the session timeout, 45 s).
        p.put(StreamsConfig.consumerPrefix("group.instance.id"),
                (options.applicationId() + "." + options.endpoint().host() + "." + options.endpoint().port()).replaceAll("[^A-Za-z0-9._-]", "_"));
        this.streams = new KafkaStreams(topology(topics, options.maxPerUser(), options.behaviors(), deadLettered, rerouted), p);
        // Reaching RUNNING (or ERROR) and every restoration with records to replay are logged: after a crash,
        // recovery (a wiped store restored from its changelog, transactions of the dead instance aborted) is where
        // the time goes, and the log says which part; the other steps are debug.
        long started = System.nanoTime();
        streams.setStateListener((now, before) -> {
            long ms = (System.nanoTime() - started) / 1_000_000;
            if (now == KafkaStreams.State.RUNNING || now == KafkaStreams.State.ERROR) {
                LOG.info("Event stream {} -> {} after {} ms", before, now, ms);
            } else {
                LOG.debug("Event stream {} -> {} after {} ms", before, now, ms);
            }
        });
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition partition, String store, long from, long to) {
                if (to > from) {
                    LOG.info("Restoring {} of {} from its changelog: offsets {} to {}", partition, store, from, to);
                }
            }

            @Override
            public void onBatchRestored(TopicPartition partition, String store, long end, long count) {
            }

            @Override
            public void onRestoreEnd(TopicPartition partition, String store, long total) {
                if (total > 0) {
                    LOG.info("Restored {} of {}: {} records", partition, store, total);
                }
            }
        });
        streams.start();
    }

    static Topology topology(EventTopics topics, int maxPerUser, Set<String> behaviors, AtomicLong deadLettered, AtomicLong rerouted) {
        // The processor API rather than the DSL: the processor sends a record to one of two named sinks.
        Topology t = new Topology();
        ByteArrayDeserializer bytesIn = new ByteArrayDeserializer();
        ByteArraySerializer bytesOut = new ByteArraySerializer();
        t.addSource("events", bytesIn, bytesIn, topics.events());
        t.addProcessor("sequences", () -> new SequenceProcessor(STORE, META_STORE, maxPerUser, topics.partitions(), behaviors, deadLettered, rerouted),
                "events");
        // Not cached: Kafka Streams' record cache (a sorted map of all written keys) cost a third of the thread
        // in key comparisons, to save the few repeated writes of a user's meta key between commits.
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(), Serdes.ByteArray())
                .withCachingDisabled(), "sequences");
        // Not Stores.lruMap: a task revived after a crash kept it closed to queries for good (MetaStore says why).
        t.addStateStore(Stores.keyValueStoreBuilder(MetaStore.supplier(META_STORE, META_USERS), Serdes.Long(), Serdes.ByteArray())
                .withCachingDisabled().withLoggingDisabled(), "sequences");
        t.addSink(SequenceProcessor.DEAD_LETTERS, topics.deadLetters(), bytesOut, bytesOut, "sequences");
        // Partitioned by the key as the Java producer does: the event arrives where its user is owned.
        t.addSink(SequenceProcessor.REROUTE, topics.events(), bytesOut, bytesOut, "sequences");
        return t;
    }

    /** Waits until the instance runs (its share of the store restored); false on timeout. */
    public boolean awaitRunning(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING) {
            if (System.nanoTime() > deadline || streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
                return false;
            }
            Thread.sleep(50);
        }
        return true;
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    /** The instance that holds the user's sequence (empty while the group is rebalancing). */
    public Optional<HostInfo> ownerOf(long user) {
        KeyQueryMetadata m = streams.queryMetadataForKey(STORE, Long.toString(user), new StringSerializer());
        return m == null || m.equals(KeyQueryMetadata.NOT_AVAILABLE) ? Optional.empty() : Optional.of(m.activeHost());
    }

    /** Whether this instance holds the user's sequence. */
    public boolean holds(long user) {
        return ownerOf(user).map(self::equals).orElse(false);
    }

    /** Records this instance sent to the dead-letter topic since it started. */
    public long deadLettered() {
        return deadLettered.get();
    }

    /** Events this instance sent back to their key's partition since it started. */
    public long rerouted() {
        return rerouted.get();
    }

    /** The Kafka Streams instance, for metrics binders (its consumers' lag per partition, its threads' work). */
    public KafkaStreams kafkaStreams() {
        return streams;
    }

    public HostInfo endpoint() {
        return self;
    }

    /**
     * The user's sequence from this instance's share of the store (empty if unknown here: ask {@link #ownerOf}
     * first when several instances run). A store being restored or moved is an {@link IllegalStateException}.
     */
    @Override
    public BehaviorSequence get(long user) {
        try {
            return SequenceKeys.read(stores().events(), user);
        } catch (InvalidStateStoreException e) {
            throw notQueryable(e);
        }
    }

    @Override
    public long version(long user) {
        try {
            Queryable q = stores();
            return SequenceKeys.version(q.events(), q.meta(), user);
        } catch (InvalidStateStoreException e) {
            throw notQueryable(e);
        }
    }

    @Override
    public int length(long user) {
        try {
            Queryable q = stores();
            return SequenceKeys.length(q.events(), q.meta(), user);
        } catch (InvalidStateStoreException e) {
            throw notQueryable(e);
        }
    }

    /** The two stores as interactive queries see them (kept between reads; taken again after they moved or were restored). */
    private record Queryable(ReadOnlyKeyValueStore<String, byte[]> events, ReadOnlyKeyValueStore<Long, byte[]> meta) {
    }

    private volatile Queryable stores;

    private Queryable stores() {
        Queryable s = stores;
        if (s == null) {
            s = new Queryable(streams.store(StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore())),
                    streams.store(StoreQueryParameters.fromNameAndType(META_STORE, QueryableStoreTypes.keyValueStore())));
            stores = s;
        }
        return s;
    }

    private IllegalStateException notQueryable(InvalidStateStoreException e) {
        stores = null;
        return new IllegalStateException("the sequence store is not queryable now (" + streams.state() + "): " + e.getMessage(), e);
    }

    /** Closes the topology, leaving its group; waits up to 30 s. */
    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }

    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Closes the topology, leaving its group; waits up to {@code timeout} (Kafka gone: the group cannot be left).
     * Only the first close waits.
     */
    public void close(Duration timeout) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        streams.close(CloseOptions.groupMembershipOperation(
                CloseOptions.GroupMembershipOperation.LEAVE_GROUP).withTimeout(timeout));
    }
}
