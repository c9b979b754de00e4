package dev.attend.streaming;

import dev.attend.gpu.Scorer;
import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.ResourceId;
import dev.attend.retrieval.KvMemoryBudget;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.KvSessionLimits;
import dev.attend.retrieval.KvSessions;
import dev.attend.retrieval.KvWriteLog;
import dev.attend.retrieval.KvWriteUncertainException;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One instance of a cluster that spreads KV sessions over instances through Kafka (issue 25). A session belongs to a
 * partition of the KV topic ({@link KvTopicLog#partitionOf}); the instances of one group share the partitions through
 * Kafka's group membership (cooperative rebalancing; static membership with an instance id), so placement, failure
 * detection and rebalancing are Kafka's. An instance holds the sessions of the partitions it owns, in memory: when it
 * is given a partition it rebuilds that partition's sessions from the topic alone ({@link KvTopicLog#restoreAll}) and
 * serves them once that is done; when it loses one it closes them. Every write of a session goes to the topic and is
 * acknowledged by it (acks=all) before it applies ({@link KvWriteLog}): the topic is the sessions' replicated
 * write-ahead log, so an instance that dies loses no acknowledged write. A write whose outcome is unknown fences its
 * session, which is then rebuilt from the topic (positions say whether the write is in). Other instances' sessions
 * are found through {@link #ownerOf}: the group's assignment, each member's address carried in its client id.
 *
 * <p>Not guaranteed: an instance cut off from Kafka but alive keeps answering reads from what it holds until its
 * membership times out (its writes fail); two instances never both acknowledge writes of one session only as long as
 * the group's assignment is respected, which Kafka's session timeout bounds but does not fence.
 */
public final class KvCluster implements KvSessions {

    private static final Logger LOG = LoggerFactory.getLogger(KvCluster.class);
    /** The client id prefix that carries a member's address ({@code attend-kv@host:port}). */
    static final String CLIENT_PREFIX = "attend-kv@";
    /** How long a fenced session whose rebuild failed waits before it is tried again. */
    private static final Duration REBUILD_RETRY = Duration.ofSeconds(5);
    /** How often the local snapshots of partitions written to since their last are brought up to date (tests set it). */
    static volatile Duration checkpointEvery = Duration.ofSeconds(10);
    /** The quarantine's store name for damaged snapshots. */
    static final String SNAPSHOT_STORE = "kv-cluster";
    /** How often the group's assignment is read for {@link #ownerOf}, off the requests' path. */
    private static final Duration OWNERS_FRESH = Duration.ofMillis(500);

    /**
     * Where and as what this instance joins: the brokers, the KV topic (which must exist, without retention), the group
     * the instances share, this instance's address (what others forward its sessions' requests to), its static member id
     * (null: a dynamic member), the session timeout (how long a dead instance holds its partitions), standbys (1: this
     * instance keeps warm copies of the sessions of the instance before it in address order, so that taking them over
     * reads only their latest writes; twice the memory), client settings ({@link KafkaClientProperties}), and where
     * this instance keeps local snapshots of the partitions it owns ({@link KvSnapshot}: a partition taken back, as
     * after a restart, is read from the topic only from the offset they cover; null: none, every restore reads the
     * topic from the start).
     */
    public record Settings(String bootstrapServers, String topic, String group, HostInfo endpoint, String instanceId,
                           Duration sessionTimeout, int standbys, Map<String, String> client, Path snapshots) {
        public Settings {
            Objects.requireNonNull(bootstrapServers, "bootstrapServers");
            Objects.requireNonNull(topic, "topic");
            Objects.requireNonNull(group, "group");
            Objects.requireNonNull(endpoint, "endpoint");
            Objects.requireNonNull(sessionTimeout, "sessionTimeout");
            if (standbys < 0 || standbys > 1) {
                throw new IllegalArgumentException("standbys must be 0 or 1, got " + standbys);
            }
            client = client == null ? Map.of() : Map.copyOf(client);
        }
    }

    /** A partition's state on this instance. */
    public enum PartitionState {
        /** Being rebuilt from the topic: its sessions are not served yet. */
        RESTORING,
        /** Served. */
        READY,
        /** Its rebuild failed (damage in the topic): not served; see the log. */
        FAILED
    }

    /** Thrown for a session whose partition this instance does not serve (now): look for its owner and retry. */
    public static final class NotServedHereException extends RuntimeException {
        private final int partition;

        NotServedHereException(String message, int partition) {
            super(message);
            this.partition = partition;
        }

        public int partition() {
            return partition;
        }
    }

    private record Held(KvSession session, int partition, long createdAt) {
    }

    private record Owned(PartitionState state, long generation, String problem) {
    }

    private final Settings settings;
    private final Scorer scorer;
    private final Executor builds;
    private final Executor indexer;
    private final KvSessionLimits limits;
    private final KvMemoryBudget budget;
    private final KvTopicLog log;
    private final Admin admin;
    private final Map<String, Held> sessions = new ConcurrentHashMap<>();
    private final Map<Integer, Owned> owned = new ConcurrentHashMap<>();
    private final AtomicLong generations = new AtomicLong();
    private final ExecutorService restorer;
    private final KafkaConsumer<byte[], byte[]> membership;
    private final Thread member;
    private final ScheduledExecutorService ownersReader;
    private final KvStandby standby; // or null
    private final AtomicLong warmTakeOvers = new AtomicLong();
    private final Map<Integer, KvSnapshot> snapshots = new ConcurrentHashMap<>();
    /** One user of a partition's snapshot folder at a time: a restore (from its start to its end) or a checkpoint. */
    private final Map<Integer, ReentrantLock> files = new ConcurrentHashMap<>();
    private final AtomicLong snapshotRestores = new AtomicLong();
    private final List<String> snapshotDamage = new CopyOnWriteArrayList<>();
    private final AtomicLong topicRecordsRestored = new AtomicLong();
    private volatile String topicId;
    private volatile boolean closed;
    private volatile Map<Integer, HostInfo> owners = Map.of();
    private volatile long ownersAt;

    /**
     * Joins the group and starts restoring what it is given; sessions open on {@code scorer}, build on {@code builds},
     * insert on {@code indexer}, and follow {@code limits} (every session of this instance together within its total).
     */
    public KvCluster(Settings settings, Scorer scorer, Executor builds, Executor indexer, KvSessionLimits limits) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.scorer = Objects.requireNonNull(scorer, "scorer");
        this.builds = Objects.requireNonNull(builds, "builds");
        this.indexer = Objects.requireNonNull(indexer, "indexer");
        this.limits = Objects.requireNonNull(limits, "limits");
        this.budget = new KvMemoryBudget(limits.maxTotalBytes());
        this.log = new KvTopicLog(settings.bootstrapServers(), settings.topic(), KvTopicLog.DEFAULT_CHUNK_BYTES, settings.client());
        Properties a = KafkaClientProperties.base(settings.client());
        a.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        this.admin = Admin.create(a);
        this.restorer = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "attend-kv-restore");
            t.setDaemon(true);
            return t;
        });
        Properties c = KafkaClientProperties.base(settings.client());
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, settings.group());
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, CLIENT_PREFIX + settings.endpoint().host() + ":" + settings.endpoint().port());
        if (settings.instanceId() != null) {
            c.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, settings.instanceId());
        }
        c.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, (int) settings.sessionTimeout().toMillis());
        c.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, (int) Math.max(100, settings.sessionTimeout().toMillis() / 4));
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        this.membership = new KafkaConsumer<>(c);
        this.standby = settings.standbys() == 0 ? null : new KvStandby(settings.topic(), KvTopicLog.consumer(settings.bootstrapServers(),
                settings.client()), (id, config, offset) -> open(id, config));
        this.ownersReader = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "attend-kv-owners");
            t.setDaemon(true);
            return t;
        });
        this.ownersReader.scheduleWithFixedDelay(() -> {
            lookUpOwners();
            if (standby != null) {
                standby.follow(standingBy());
            }
        }, 0, OWNERS_FRESH.toMillis(), TimeUnit.MILLISECONDS);
        if (settings.snapshots() != null) {
            long every = checkpointEvery.toMillis();
            this.ownersReader.scheduleWithFixedDelay(() -> restorer.execute(this::checkpointDirty), every, every, TimeUnit.MILLISECONDS);
        }
        this.member = new Thread(this::memberLoop, "attend-kv-member");
        this.member.setDaemon(true);
        this.member.start();
    }

    /** Polls only to stay in the group: its partitions are paused, the sessions read the topic on their own. */
    private void memberLoop() {
        try {
            membership.subscribe(List.of(settings.topic()), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    membership.pause(partitions);
                    assigned(partitions);
                }

                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    dropped(partitions, "revoked");
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    dropped(partitions, "lost");
                }
            });
            while (!closed) {
                membership.poll(Duration.ofMillis(200));
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("KV cluster member stopped: {}", e.toString(), e);
        } finally {
            try {
                membership.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                        .withTimeout(Duration.ofSeconds(5)));
            } catch (RuntimeException e) {
                LOG.warn("KV cluster member did not leave its group cleanly: {}", e.toString());
            }
        }
    }

    private void assigned(Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions) {
            int p = tp.partition();
            long generation = generations.incrementAndGet();
            CompletableFuture<KvStandby.Warm> warm = standby == null ? null : standby.beginTakeOver(p);
            owned.put(p, new Owned(PartitionState.RESTORING, generation, null));
            restorer.execute(() -> restore(p, generation, warm));
        }
        ownersAt = System.nanoTime() - 10 * OWNERS_FRESH.toNanos(); // the others' partitions moved too: the next look-up reads the group again
    }

    private void dropped(Collection<TopicPartition> partitions, String how) {
        for (TopicPartition tp : partitions) {
            int p = tp.partition();
            KvSnapshot snapshot;
            synchronized (this) { // not between a restore's last check and its serving the partition
                owned.remove(p);
                snapshot = snapshots.remove(p);
            }
            if (snapshot != null) { // brought up to date before its sessions close: whoever takes it back reads less
                withFiles(p, snapshot::checkpoint);
            }
            closeSessionsOf(p);
            LOG.info("KV partition {} {}: its sessions closed here", p, how);
        }
        ownersAt = System.nanoTime() - 10 * OWNERS_FRESH.toNanos();
    }

    private void closeSessionsOf(int partition) {
        for (Map.Entry<String, Held> e : sessions.entrySet()) {
            if (e.getValue().partition() == partition && sessions.remove(e.getKey(), e.getValue())) {
                e.getValue().session().close();
            }
        }
    }

    /**
     * Rebuilds partition {@code p}'s sessions: from this instance's standby copies, or from its local snapshot and the
     * topic after the offset it covers, or from the topic alone; serves them when this instance still owns {@code p}
     * after.
     */
    private void restore(int p, long generation, CompletableFuture<KvStandby.Warm> takeOver) {
        if (settings.snapshots() == null) {
            restoreHeld(p, generation, takeOver);
            return;
        }
        ReentrantLock lock = files.computeIfAbsent(p, k -> new ReentrantLock());
        lock.lock(); // an earlier restore of p still running (p lost and given back meanwhile) finishes first
        try {
            restoreHeld(p, generation, takeOver);
        } finally {
            lock.unlock();
        }
    }

    /** Runs {@code action} on partition {@code p}'s snapshot folder when no restore of it runs. */
    private void withFiles(int p, Runnable action) {
        ReentrantLock lock = files.computeIfAbsent(p, k -> new ReentrantLock());
        lock.lock();
        try {
            action.run();
        } finally {
            lock.unlock();
        }
    }

    private boolean current(int p, long generation) {
        Owned now = owned.get(p);
        return !closed && now != null && now.generation() == generation;
    }

    private void restoreHeld(int p, long generation, CompletableFuture<KvStandby.Warm> takeOver) {
        if (!current(p, generation)) {
            return;
        }
        long start = System.nanoTime();
        Map<String, Long> createdAt = new HashMap<>();
        Map<String, SessionLog> logs = new HashMap<>();
        KvSnapshot snapshot = null;
        String from = "the topic";
        try {
            KvStandby.Warm warm = takeOver == null ? null : KvStandby.await(takeOver, p);
            KvTopicLog.Restored r;
            if (warm != null) {
                warmTakeOvers.incrementAndGet();
                createdAt.putAll(warm.createdAt());
                warm.sessions().forEach((id, s) -> {
                    SessionLog l = new SessionLog(id, null, null);
                    s.attachLog(l);
                    logs.put(id, l);
                });
                r = new KvTopicLog.Restored(warm.sessions(), warm.records(), 0, 0);
                from = "this instance's standby copies";
            } else {
                Map<String, KvSession> held = new HashMap<>();
                long offset = 0;
                if (settings.snapshots() != null) {
                    snapshot = openSnapshot(p, held, createdAt, logs);
                    offset = snapshot == null ? 0 : snapshot.lastCovered();
                    if (offset > 0) {
                        from = "its local snapshot (" + held.size() + " sessions at offset " + offset + ") and the topic after it";
                    }
                }
                KvSnapshot files = snapshot;
                long endBefore = offset;
                r = KvTopicLog.restore(settings.bootstrapServers(), settings.topic(), p, offset, held, (id, config, at) -> {
                    KvSession s = open(id, config);
                    s.holdBuilds(true);
                    createdAt.put(id, at);
                    SessionLog l = new SessionLog(id, files, files == null ? null : files.create(id, config, at));
                    s.attachLog(l);
                    logs.put(id, l);
                    return s;
                }, settings.client());
                if (snapshot != null && endBefore > r.nextOffset()) { // the topic ends before what the snapshot covers: it lost writes
                    r.sessions().values().forEach(KvSession::close);
                    throw new IOException("KV partition " + p + "'s local snapshot covers offset " + endBefore + " and the topic ends at "
                            + r.nextOffset() + ": the topic lost writes (an unclean leader election?); not served from either");
                }
                if (snapshot != null) {
                    snapshot.retainOnly(r.sessions().keySet());
                    snapshot.covers(r.nextOffset());
                }
            }
            synchronized (this) {
                Owned now = owned.get(p);
                if (closed || now == null || now.generation() != generation) { // lost while it was restored
                    r.sessions().values().forEach(KvSession::close);
                    return;
                }
                for (Map.Entry<String, KvSession> e : r.sessions().entrySet()) {
                    KvSession s = e.getValue();
                    logs.get(e.getKey()).live();
                    s.holdBuilds(false);
                    Held old = sessions.put(e.getKey(), new Held(s, p, createdAt.get(e.getKey())));
                    if (old != null) {
                        old.session().close();
                    }
                }
                if (snapshot != null) {
                    snapshots.put(p, snapshot);
                }
                owned.put(p, new Owned(PartitionState.READY, generation, null));
            }
            if (snapshot != null) {
                snapshot.checkpoint();
            }
            topicRecordsRestored.addAndGet(r.records());
            LOG.info("KV partition {}: {} sessions ({} writes read from the topic) restored from {} in {} ms", p, r.sessions().size(), r.records(),
                    from, (System.nanoTime() - start) / 1_000_000);
        } catch (IOException | RuntimeException e) {
            if (!current(p, generation)) { // lost or closing meanwhile: nothing to report
                LOG.debug("KV partition {}: its restore stopped, the partition is not here any more ({})", p, e.toString());
                return;
            }
            owned.computeIfPresent(p, (k, o) -> o.generation() == generation ? new Owned(PartitionState.FAILED, generation, e.toString()) : o);
            LOG.error("KV partition {} could not be restored from {}: {}", p, settings.topic(), e.toString(), e);
        }
    }

    /**
     * Partition {@code p}'s local snapshot, its sessions loaded into {@code held}: a damaged one is quarantined and a
     * fresh one started (the topic alone restores the partition then); null when there can be none now (the topic's id
     * unknown, files left alone that this build cannot read or that cannot be read now), which costs a longer restore.
     */
    private KvSnapshot openSnapshot(int p, Map<String, KvSession> held, Map<String, Long> createdAt, Map<String, SessionLog> logs) {
        Path dir = KvSnapshot.dirOf(settings.snapshots(), settings.topic(), p);
        String id;
        try {
            id = topicId();
        } catch (Exception e) {
            LOG.warn("KV partition {}: no local snapshot this time, the topic's id could not be read: {}", p, e.toString());
            return null;
        }
        KvSnapshot.Manifest m = null;
        try {
            m = KvSnapshot.read(dir);
            if (m != null && (!m.topicId().equals(id) || m.partition() != p)) {
                LOG.info("KV partition {}: the local snapshot is of another topic or partition ({} partition {}), not used", p, m.topicId(), m.partition());
                m = null;
            }
            KvSnapshot snapshot = KvSnapshot.start(dir, id, p, m);
            if (m != null) {
                for (KvSnapshot.Entry e : m.sessions()) {
                    KvSession s = open(e.id(), e.config());
                    held.put(e.id(), s);
                    s.holdBuilds(true);
                    SessionLog l = new SessionLog(e.id(), snapshot, snapshot.load(e, s));
                    s.attachLog(l);
                    logs.put(e.id(), l);
                    createdAt.put(e.id(), e.createdAt());
                }
                snapshotRestores.incrementAndGet();
            }
            return snapshot;
        } catch (CorruptFileException e) {
            closeAll(held, createdAt, logs);
            Path kept = Quarantine.moveAside(settings.snapshots(), SNAPSHOT_STORE, "KV partition " + p + "'s local snapshot", dir,
                    "damaged (" + e.getMessage() + "); the partition is restored from the topic alone");
            snapshotDamage.add("KV partition " + p + "'s local snapshot was damaged (" + e.getMessage() + "): "
                    + (kept == null ? "it could not be moved aside" : "moved to " + kept) + "; the partition was restored from the topic alone");
            if (kept == null) { // left where it is, as found: no snapshot of this partition until it can be moved
                return null;
            }
            try {
                return KvSnapshot.start(dir, id, p, null);
            } catch (IOException again) {
                LOG.warn("KV partition {}: no local snapshot this time: {}", p, again.toString());
                return null;
            }
        } catch (IOException | RuntimeException e) { // another build's format, a permission: left alone, not used
            closeAll(held, createdAt, logs);
            LOG.warn("KV partition {}: the local snapshot in {} is left as it is and not used: {}", p, dir, e.toString());
            return null;
        }
    }

    private static void closeAll(Map<String, KvSession> held, Map<String, Long> createdAt, Map<String, SessionLog> logs) {
        held.values().forEach(KvSession::close);
        held.clear();
        createdAt.clear();
        logs.clear();
    }

    private String topicId() throws Exception {
        if (topicId == null) {
            topicId = admin.describeTopics(List.of(settings.topic())).allTopicNames().get(10, TimeUnit.SECONDS).get(settings.topic()).topicId().toString();
        }
        return topicId;
    }

    private void checkpointDirty() {
        snapshots.forEach((p, s) -> {
            if (s.dirty()) {
                withFiles(p, s::checkpoint);
            }
        });
    }

    private KvSession open(String id, KvSessionConfig config) {
        return new KvSession(id, config, scorer, builds, indexer, limits, budget);
    }

    /**
     * A session's log here: while it is restored, its local journal only (the topic has those records already); once
     * {@link #live}, the topic first and its journal after. A write the topic does not acknowledge fences the session,
     * rebuilt then.
     */
    private final class SessionLog implements KvWriteLog {
        private final String id;
        private final KvSnapshot snapshot; // or null
        private final KvJournal journal; // or null
        private volatile boolean live;

        SessionLog(String id, KvSnapshot snapshot, KvJournal journal) {
            this.id = id;
            this.snapshot = snapshot;
            this.journal = journal;
        }

        /** From now on writes go to the topic. */
        void live() {
            live = true;
        }

        @Override
        public void write(byte[] record) throws IOException {
            if (!live) {
                if (snapshot != null) {
                    snapshot.journal(id, journal, record);
                }
                return;
            }
            try {
                if (snapshot == null || journal == null) {
                    log.write(id, record);
                } else {
                    snapshot.write(id, journal, record, () -> log.write(id, record));
                }
            } catch (KafkaUnavailableException e) {
                Held fenced = sessions.get(id);
                if (fenced != null) {
                    restorer.execute(() -> rebuild(id, fenced));
                }
                throw new KvWriteUncertainException(e.getMessage(), e);
            }
        }

        @Override
        public void close() throws IOException {
            if (journal != null) {
                journal.close();
            }
        }
    }

    /** A log that writes to the topic alone (a session rebuilt or taken over has no local journal). */
    private KvWriteLog topicOnly(String id) {
        SessionLog l = new SessionLog(id, null, null);
        l.live();
        return l;
    }

    /**
     * Replaces {@code h}, fenced, with a session rebuilt from the topic (its writes from its creation on); nothing when
     * {@code h} is no longer the one held (rebuilt already, or its partition restored again). Its partition's local
     * snapshot stops: its journal may lack the write whose outcome was unknown.
     */
    private void rebuild(String id, Held h) {
        if (closed || sessions.get(id) != h) {
            return;
        }
        KvSnapshot snapshot = snapshots.get(h.partition());
        if (snapshot != null) {
            snapshot.stop("session " + ResourceId.shown(id) + " is rebuilt from the topic after a write of unknown outcome");
        }
        KvSession fresh = open(id, h.session().config());
        try {
            fresh.holdBuilds(true);
            KvTopicLog.replay(settings.bootstrapServers(), settings.topic(), id, h.createdAt(), fresh, settings.client());
            fresh.attachLog(topicOnly(id));
            fresh.holdBuilds(false);
            if (sessions.replace(id, h, new Held(fresh, h.partition(), h.createdAt()))) {
                h.session().close();
                LOG.info("KV session {} rebuilt from {} after a write of unknown outcome", ResourceId.shown(id), settings.topic());
            } else {
                fresh.close();
            }
        } catch (IOException | RuntimeException e) {
            fresh.close();
            LOG.error("KV session {} could not be rebuilt from {} (it stays fenced; tried again in {} s): {}", ResourceId.shown(id),
                    settings.topic(), REBUILD_RETRY.toSeconds(), e.toString(), e);
            if (!closed) { // a fenced session takes no writes, so no later failure would ask again
                ownersReader.schedule(() -> restorer.execute(() -> rebuild(id, h)), REBUILD_RETRY.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
    }

    /**
     * The partitions this instance keeps standby copies of: those owned by the instance before it in the order of
     * the members' addresses (the last's for the first); none while it is alone. A partition whose owner the group no
     * longer shows (that owner gone: what a failover looks like) stays followed until it is taken over or shown owned
     * by another.
     */
    private Set<Integer> standingBy() {
        Map<Integer, HostInfo> known = owners;
        Set<Integer> out = new TreeSet<>(standby.following());
        TreeSet<String> members = new TreeSet<>();
        known.values().forEach(h -> members.add(address(h)));
        String self = address(settings.endpoint());
        members.add(self);
        if (members.size() >= 2) {
            String before = members.lower(self) != null ? members.lower(self) : members.last();
            known.forEach((p, h) -> {
                if (address(h).equals(before)) {
                    out.add(p);
                } else {
                    out.remove(p);
                }
            });
        }
        out.removeAll(owned.keySet());
        return out;
    }

    private static String address(HostInfo h) {
        return h.host() + ":" + h.port();
    }

    /** The partitions this instance keeps standby copies of now (empty without standbys). */
    public Set<Integer> standbyPartitions() {
        return standby == null ? Set.of() : standby.following();
    }

    /** Partitions restored from this instance's local snapshots (and the topic after them) instead of the topic alone. */
    public long snapshotRestores() {
        return snapshotRestores.get();
    }

    /** Damaged local snapshots moved into the quarantine (their partitions restored from the topic alone). */
    public long snapshotsQuarantined() {
        return snapshotDamage.size();
    }

    /** Writes the restores of partitions read from the topic (after a snapshot: only those after the offset it covers). */
    public long topicRecordsRestored() {
        return topicRecordsRestored.get();
    }

    /** Brings every local snapshot up to date now (what happens every {@link #checkpointEvery} to those written to). */
    void checkpointNow() {
        snapshots.forEach((p, s) -> withFiles(p, s::checkpoint));
    }

    /** The partitions whose local snapshot stopped here (the last manifest stays), with why. */
    public Map<Integer, String> snapshotsStopped() {
        Map<Integer, String> out = new TreeMap<>();
        snapshots.forEach((p, s) -> {
            if (s.stopped() != null) {
                out.put(p, s.stopped());
            }
        });
        return out;
    }

    /** Partitions taken over from this instance's standby copies instead of restored whole. */
    public long warmTakeOvers() {
        return warmTakeOvers.get();
    }

    /** This instance's partitions and their states. */
    public Map<Integer, PartitionState> partitions() {
        Map<Integer, PartitionState> out = new TreeMap<>();
        owned.forEach((p, o) -> out.put(p, o.state()));
        return out;
    }

    /** Problems to report (partitions whose rebuild failed, damaged local snapshots quarantined), empty when none. */
    public List<String> problems() {
        List<String> out = new ArrayList<>(snapshotDamage);
        owned.forEach((p, o) -> {
            if (o.state() == PartitionState.FAILED) {
                out.add("KV partition " + p + " of " + settings.topic() + " could not be restored: " + o.problem());
            }
        });
        return out;
    }

    /** The partition of session {@code id}. */
    public int partitionOf(String id) {
        return log.partitionOf(id);
    }

    /** This instance's address. */
    public HostInfo endpoint() {
        return settings.endpoint();
    }

    /**
     * The instance that owns session {@code id}'s partition (this one's {@link #endpoint} when it is here), or empty
     * while no member owns it (a rebalance under way).
     */
    public Optional<HostInfo> ownerOf(String id) {
        int p = partitionOf(id);
        if (owned.containsKey(p)) {
            return Optional.of(settings.endpoint());
        }
        HostInfo at = owners.get(p);
        if (at == null || at.equals(settings.endpoint())) { // not read yet, a rebalance under way, or moved away: read now
            at = lookUpOwners().get(p);
            if (at != null && at.equals(settings.endpoint())) { // the group has not caught up with this instance's view yet
                return Optional.empty();
            }
        }
        return Optional.ofNullable(at);
    }

    private synchronized Map<Integer, HostInfo> lookUpOwners() {
        if (System.nanoTime() - ownersAt < OWNERS_FRESH.toNanos() / 5 && !owners.isEmpty()) {
            return owners;
        }
        Map<Integer, HostInfo> found = new HashMap<>();
        try {
            ConsumerGroupDescription g = admin.describeConsumerGroups(List.of(settings.group())).all()
                    .get(5, TimeUnit.SECONDS).get(settings.group());
            for (MemberDescription m : g.members()) {
                HostInfo at = endpointOf(m.clientId());
                if (at == null) {
                    continue;
                }
                for (TopicPartition tp : m.assignment().topicPartitions()) {
                    if (tp.topic().equals(settings.topic())) {
                        found.put(tp.partition(), at);
                    }
                }
            }
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            LOG.warn("KV cluster: the group's assignment could not be read: {}", e.toString());
            return owners;
        }
        owners = Map.copyOf(found);
        ownersAt = System.nanoTime();
        return owners;
    }

    /** The address in a member's client id, or null when it is not one of ours. */
    static HostInfo endpointOf(String clientId) {
        if (clientId == null || !clientId.startsWith(CLIENT_PREFIX)) {
            return null;
        }
        try {
            return HostInfo.buildFromEndpoint(clientId.substring(CLIENT_PREFIX.length()));
        } catch (RuntimeException e) {
            return null;
        }
    }

    /**
     * Throws a {@link NotServedHereException} unless session {@code id}'s partition is here and served (a session not
     * found where its partition is being restored is not missing yet); returns the partition.
     */
    public int served(String id) {
        int p = partitionOf(id);
        Owned o = owned.get(p);
        if (o == null) {
            throw new NotServedHereException("KV session " + ResourceId.shown(id) + " belongs to partition " + p + ", which this instance does not own", p);
        }
        if (o.state() != PartitionState.READY) {
            throw new NotServedHereException("KV session " + ResourceId.shown(id) + ": partition " + p + " is "
                    + (o.state() == PartitionState.RESTORING ? "being restored from the topic; retry shortly" : "not served (" + o.problem() + ")"), p);
        }
        return p;
    }

    /**
     * Creates session {@code id} on this instance, which must own its partition ({@link NotServedHereException}): the
     * creation is in the topic before this returns.
     */
    @Override
    public synchronized KvSession create(String id, KvSessionConfig config) {
        ResourceId.kvSession(id);
        int p = served(id);
        if (sessions.containsKey(id)) {
            throw new IllegalStateException("KV session " + ResourceId.shown(id) + " exists");
        }
        KvSession s = open(id, config); // checks the shape and limits, charges its fixed part
        KvSnapshot snapshot = snapshots.get(p);
        long at;
        try {
            at = (snapshot == null ? log.create(id, config) : snapshot.created(id, config, () -> log.create(id, config))) - 1;
        } catch (RuntimeException e) {
            s.close();
            throw new UncheckedIOException("KV session " + ResourceId.shown(id) + " was not created: " + e.getMessage(), new IOException(e));
        }
        SessionLog l = new SessionLog(id, snapshot, snapshot == null ? null : snapshot.journalOf(id));
        l.live();
        s.attachLog(l);
        sessions.put(id, new Held(s, p, at));
        return s;
    }

    /** The session when this instance serves it, else null (whether another instance does: {@link #ownerOf}). */
    @Override
    public KvSession get(String id) {
        Held h = id == null ? null : sessions.get(id);
        return h == null ? null : h.session();
    }

    /** Deletes the session (its deletion in the topic first); false when this instance holds no such session. */
    @Override
    public synchronized boolean delete(String id) {
        ResourceId.kvSession(id);
        Held h = sessions.get(id);
        if (h == null) {
            return false;
        }
        KvSnapshot snapshot = snapshots.get(h.partition());
        try {
            if (snapshot == null) {
                log.delete(id);
            } else {
                snapshot.deleted(id, () -> log.delete(id));
            }
        } catch (RuntimeException e) {
            throw new UncheckedIOException("KV session " + ResourceId.shown(id) + " was not deleted: " + e.getMessage(), new IOException(e));
        }
        sessions.remove(id, h);
        h.session().close();
        return true;
    }

    @Override
    public List<String> ids() {
        return new ArrayList<>(sessions.keySet());
    }

    @Override
    public int size() {
        return sessions.size();
    }

    @Override
    public KvSessionLimits limits() {
        return limits;
    }

    @Override
    public long chargedBytes() {
        return budget.charged();
    }

    /** Leaves the group (its partitions go to the others) and closes the sessions held here; the topic keeps them. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            member.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        restorer.shutdownNow();
        ownersReader.shutdownNow();
        if (standby != null) {
            standby.close();
        }
        snapshots.forEach((p, s) -> withFiles(p, s::checkpoint));
        snapshots.clear();
        synchronized (this) {
            sessions.values().forEach(h -> h.session().close());
            sessions.clear();
            owned.clear();
        }
        log.close();
        admin.close(Duration.ofSeconds(5));
    }
}
