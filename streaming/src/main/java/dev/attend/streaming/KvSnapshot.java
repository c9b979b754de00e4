package dev.attend.streaming;

import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.ResourceId;
import dev.attend.retrieval.KvRecords;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.internals.KvJournal;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The files an instance of a {@link KvCluster} keeps of a KV partition it owns: each session's records in a local
 * journal (the single-instance store's format, {@link KvJournal}) and a manifest (versioned, checksummed) naming the
 * topic offset they cover and each journal's length at that offset, so that an instance taking the partition back (a
 * restart) loads them and reads the topic only from that offset. The topic stays the sessions' log: a record is
 * journaled here only after the topic acknowledged it, so the files are never ahead of the topic, and anything amiss
 * with them (damage, a failed write, a write of unknown outcome) costs a longer restore, never a write. Every manifest
 * written is consistent (a checkpoint waits for the writes in flight), so the last one stays valid even when later
 * ones stop.
 */
final class KvSnapshot {

    private static final Logger LOG = LoggerFactory.getLogger(KvSnapshot.class);
    static final String MANIFEST = "snapshot.manifest";
    static final String CODEC = "attend.kv-cluster-snapshot";
    static final int VERSION = 1;
    static final String SUFFIX = ".kvj";
    /** How long a checkpoint waits for the writes in flight before it leaves the last manifest as it is. */
    private static final long CHECKPOINT_WAIT_MS = 2_000;

    /** A session as a manifest names it: its creation's offset, its journal and the bytes of it the manifest covers. */
    record Entry(String id, KvSessionConfig config, long createdAt, String file, long bytes) {
    }

    /** A manifest: the topic (by id: a topic deleted and made again is another) and partition, the offset covered, the sessions. */
    record Manifest(String topicId, int partition, long covered, List<Entry> sessions) {
    }

    private record Live(KvSessionConfig config, long createdAt, String file, KvJournal journal) {
    }

    private final Path dir;
    private final String topicId;
    private final int partition;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Map<String, Live> live = new ConcurrentHashMap<>();
    private final Set<String> retired = ConcurrentHashMap.newKeySet(); // journals to delete once a manifest no longer names them
    /** The offset after every record journaled here (raised under the read lock, read under the write lock). */
    private final AtomicLong covered;
    private volatile long lastManifestCovered;
    private volatile String stopped;
    private volatile boolean dirty;

    private KvSnapshot(Path dir, String topicId, int partition, long covered) {
        this.dir = dir;
        this.topicId = topicId;
        this.partition = partition;
        this.covered = new AtomicLong(covered);
        this.lastManifestCovered = covered;
    }

    /** Where partition {@code partition} of {@code topic} keeps its files under {@code root}. */
    static Path dirOf(Path root, String topic, int partition) {
        return root.resolve(TOPICS).resolve(topic).resolve(Integer.toString(partition)); // beside root's quarantine, whatever the topic's name
    }

    /** The folder under the snapshots' root that holds each topic's. */
    static final String TOPICS = "topics";

    /**
     * The manifest in {@code dir}, or null when there is none. Damage is a {@link CorruptFileException}; a manifest of
     * another build's format a {@link dev.attend.index.store.UnsupportedFormatException}.
     */
    static Manifest read(Path dir) throws IOException {
        Path file = dir.resolve(MANIFEST);
        if (!Files.exists(file)) {
            return null;
        }
        try (DurableFile.Reader r = DurableFile.open(file, CODEC, VERSION, VERSION)) {
            DataInputStream in = r.in();
            String topicId = in.readUTF();
            int partition = in.readInt();
            long covered = in.readLong();
            int n = in.readInt();
            if (covered < 0 || n < 0 || n > 1_000_000) {
                throw new CorruptFileException(file, "covers offset " + covered + " with " + n + " sessions");
            }
            List<Entry> sessions = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                String id = in.readUTF();
                byte[] config = new byte[in.readInt()];
                in.readFully(config);
                long createdAt = in.readLong();
                String name = in.readUTF();
                long bytes = in.readLong();
                if (!ResourceId.isValid(id) || !name.equals(fileName(id, createdAt)) || bytes < 0) {
                    throw new CorruptFileException(file, "session " + i + " names journal " + name + " of " + bytes + " bytes");
                }
                sessions.add(new Entry(id, KvRecords.readConfig(config, file.toString()), createdAt, name, bytes));
            }
            return new Manifest(topicId, partition, covered, List.copyOf(sessions));
        }
    }

    /** A session's journal: named by its id (checked by the cluster as a file name) and the offset of its creation. */
    private static String fileName(String id, long createdAt) {
        return id + "." + createdAt + SUFFIX;
    }

    /**
     * Starts from {@code manifest} (or from nothing when null): journals and a manifest of another topic or that no
     * manifest names are leftovers (of sessions created or deleted after the last manifest: the topic has them) and are
     * removed.
     */
    static KvSnapshot start(Path dir, String topicId, int partition, Manifest manifest) throws IOException {
        Files.createDirectories(dir);
        Set<String> named = new HashSet<>();
        if (manifest != null) {
            manifest.sessions().forEach(e -> named.add(e.file()));
        } else {
            Files.deleteIfExists(dir.resolve(MANIFEST));
        }
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) {
                if (!named.contains(f.getFileName().toString())) {
                    Files.deleteIfExists(f);
                    removed++;
                }
            }
        }
        if (removed > 0) {
            LOG.info("KV partition {}: {} local journals no manifest names removed (the topic holds their writes)", partition, removed);
        }
        return new KvSnapshot(dir, topicId, partition, manifest == null ? 0 : manifest.covered());
    }

    /**
     * Loads {@code e}'s journal into {@code session} (nothing attached to it yet) and keeps it for the session's later
     * records: bytes after those the manifest covers were written after the topic acknowledged them, and are cut (the
     * topic, read from the covered offset on, brings them again). Damage is a {@link CorruptFileException}.
     */
    KvJournal load(Entry e, KvSession session) throws IOException {
        Path f = dir.resolve(e.file());
        long size;
        try {
            size = Files.size(f);
        } catch (NoSuchFileException missing) {
            throw new CorruptFileException(f, "the manifest names it, and it is missing", missing);
        }
        if (size < e.bytes()) {
            throw new CorruptFileException(f, size + " bytes where the manifest covers " + e.bytes());
        }
        if (size > e.bytes()) {
            LOG.info("KV partition {}: session {}'s journal holds {} bytes after the manifest's; they are cut and read again from the topic",
                    partition, ResourceId.shown(e.id()), size - e.bytes());
        }
        KvJournal j = KvJournal.append(f, e.bytes(), false);
        try {
            KvJournal.Scan scan = KvJournal.replay(f, KvRecords.into(session));
            if (scan.damaged() || scan.unappliable() != null || scan.end() != Math.max(e.bytes(), KvJournal.FILE_HEADER) || scan.format() != KvJournal.FORMAT) {
                throw new CorruptFileException(f, "of the " + e.bytes() + " bytes the manifest covers, intact records end at " + scan.end()
                        + (scan.damaged() ? ", damaged: " + scan.lost() + (scan.damagedTail() == null ? "" : " " + scan.damagedTail()) : "")
                        + (scan.unappliable() == null ? "" : ", " + scan.unappliable()));
            }
            live.put(e.id(), new Live(e.config(), e.createdAt(), e.file(), j));
            return j;
        } catch (IllegalArgumentException ex) { // a record that does not apply in order: the files disagree with themselves
            j.close();
            throw new CorruptFileException(f, ex.getMessage(), ex);
        } catch (IOException | RuntimeException ex) {
            j.close();
            throw ex;
        }
    }

    /** A new, empty journal for session {@code id}, created at {@code createdAt} of the topic; null once snapshots stopped. */
    KvJournal create(String id, KvSessionConfig config, long createdAt) {
        if (stopped != null) {
            return null;
        }
        if (!ResourceId.isValid(id)) { // never a file name unchecked (the topic's keys are checked when written, not when read)
            stop("session id " + ResourceId.shown(id) + " does not name a file");
            return null;
        }
        String name = fileName(id, createdAt);
        try {
            Path f = dir.resolve(name);
            Files.deleteIfExists(f); // a leftover of an earlier ownership: the topic has what it held
            KvJournal j = KvJournal.create(f, false);
            Live old = live.put(id, new Live(config, createdAt, name, j));
            if (old != null && !old.file().equals(name)) {
                retired.add(old.file());
            }
            dirty = true;
            return j;
        } catch (IOException | RuntimeException e) {
            stop("the journal of session " + id + " could not be created: " + e);
            return null;
        }
    }

    /**
     * Journals {@code record} of session {@code id} after {@code toTopic} put it in the topic (returning the offset
     * after it), inside the lock a checkpoint takes: a checkpoint never falls between the two. A failure of the topic
     * propagates and stops the snapshots ({@link KafkaUnavailableException}: the topic may hold a record the journal
     * lacks); one of the journal only stops them.
     */
    long write(String id, KvJournal journal, byte[] record, TopicWrite toTopic) {
        lock.readLock().lock();
        try {
            long end = uncertain(id, "write", toTopic);
            covered.accumulateAndGet(end, Math::max);
            journal(id, journal, record);
            return end;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** {@code toTopic}'s offset; its failure stops the snapshots (the topic may hold what no journal does) and propagates. */
    private long uncertain(String id, String what, TopicWrite toTopic) {
        try {
            return toTopic.write();
        } catch (RuntimeException e) {
            stop("a " + what + " of session " + id + " failed in the topic (" + e.getMessage() + ")");
            throw e;
        }
    }

    /** A write to the topic: the offset after it. */
    @FunctionalInterface
    interface TopicWrite {
        long write();
    }

    /** Journals a record of session {@code id} that the topic already holds (a replay from it). */
    void journal(String id, KvJournal journal, byte[] record) {
        if (stopped != null || journal == null) {
            return;
        }
        try {
            journal.writeRecord(record);
            dirty = true;
        } catch (IOException | RuntimeException e) {
            stop("the journal of session " + id + " could not be written: " + e);
        }
    }

    /**
     * Session {@code id}'s creation: {@code toTopic} puts it in the topic, then its journal is made, inside the lock a
     * checkpoint takes (a manifest that covers a creation names its session); returns the offset after the creation.
     */
    long created(String id, KvSessionConfig config, TopicWrite toTopic) {
        lock.readLock().lock();
        try {
            long end = uncertain(id, "creation", toTopic);
            covered.accumulateAndGet(end, Math::max);
            create(id, config, end - 1);
            return end;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Session {@code id}'s journal, or null when it has none. */
    KvJournal journalOf(String id) {
        Live l = live.get(id);
        return l == null ? null : l.journal();
    }

    /** Session {@code id}'s deletion, put in the topic by {@code toTopic}: its journal goes once a manifest no longer names it. */
    long deleted(String id, TopicWrite toTopic) {
        lock.readLock().lock();
        try {
            long end = uncertain(id, "deletion", toTopic);
            Live gone = live.remove(id);
            if (gone != null) {
                retired.add(gone.file());
            }
            covered.accumulateAndGet(end, Math::max);
            dirty = true;
            return end;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Keeps only the sessions {@code ids} (after a replay that deleted some). */
    void retainOnly(Set<String> ids) {
        for (String id : new ArrayList<>(live.keySet())) {
            if (!ids.contains(id)) {
                Live gone = live.remove(id);
                if (gone != null) {
                    retired.add(gone.file());
                }
            }
        }
    }

    /** Covers {@code offset} at least (a replay read the topic to there). */
    void covers(long offset) {
        covered.accumulateAndGet(offset, Math::max);
        dirty = true;
    }

    /** Whether a record was journaled since the last manifest. */
    boolean dirty() {
        return dirty && stopped == null;
    }

    /** Why no more manifests are written here (the last one stays valid), or null. */
    String stopped() {
        return stopped;
    }

    /** The offset the last manifest covers (0: none yet). */
    long lastCovered() {
        return lastManifestCovered;
    }

    /** No more manifests (the last one written stays valid: it predates what went wrong). */
    void stop(String why) {
        if (stopped == null) {
            stopped = why;
            LOG.warn("KV partition {}: local snapshot stopped, the last one stays (a restore reads the rest from the topic): {}", partition, why);
        }
    }

    /**
     * Writes a manifest of what the journals hold now, once no write is between the topic and its journal (waiting at
     * most a moment: else the last manifest stays); journals no manifest names any more are removed after it. A failure
     * stops the snapshots.
     */
    void checkpoint() {
        if (stopped != null) {
            return;
        }
        for (Live l : live.values()) { // most of the bytes to disk before writes wait: the forces under the lock find little left
            try {
                l.journal().force();
            } catch (IOException e) {
                // closed meanwhile (its session gone) or failing: the force under the lock decides
            }
        }
        try {
            if (!lock.writeLock().tryLock(CHECKPOINT_WAIT_MS, TimeUnit.MILLISECONDS)) {
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        try {
            if (stopped != null) {
                return;
            }
            dirty = false;
            List<Entry> entries = new ArrayList<>(live.size());
            for (Map.Entry<String, Live> e : live.entrySet()) {
                Live l = e.getValue();
                l.journal().force();
                entries.add(new Entry(e.getKey(), l.config(), l.createdAt(), l.file(), l.journal().size()));
            }
            long at = covered.get();
            DurableFile.write(dir.resolve(MANIFEST), CODEC, VERSION, out -> {
                out.writeUTF(topicId);
                out.writeInt(partition);
                out.writeLong(at);
                out.writeInt(entries.size());
                for (Entry e : entries) {
                    out.writeUTF(e.id());
                    byte[] config = KvRecords.config(e.config());
                    out.writeInt(config.length);
                    out.write(config);
                    out.writeLong(e.createdAt());
                    out.writeUTF(e.file());
                    out.writeLong(e.bytes());
                }
            });
            lastManifestCovered = at;
            for (String name : new ArrayList<>(retired)) {
                Files.deleteIfExists(dir.resolve(name));
                retired.remove(name);
            }
        } catch (IOException | RuntimeException e) {
            stop("a manifest could not be written: " + e);
        } finally {
            lock.writeLock().unlock();
        }
    }
}
