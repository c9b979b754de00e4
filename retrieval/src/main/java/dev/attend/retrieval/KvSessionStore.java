package dev.attend.retrieval;

import dev.attend.gpu.Scorer;
import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.ResourceId;
import dev.attend.index.store.StorageErrors;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.stream.Stream;

/**
 * Durable KV sessions under a directory: one folder per session, named by its id ({@link ResourceId}, always a direct
 * child of the directory), with its configuration ({@code session.properties}, a {@link DurableFile}: checksummed and
 * versioned, written atomically) and a write-ahead journal of every prefill and append ({@code journal.log}, written
 * before the write is acknowledged, and forced to disk as well with {@link KvDurability#FSYNC}; its records are framed
 * and checksummed, see {@link KvJournal}). Opening the store replays each journal, so sessions come back after a
 * restart or a crash with every acknowledged token; their indexes are rebuilt in the background from the replayed keys
 * and prefill queries.
 *
 * <p>Damage is never served and never destroyed ({@link Quarantine}, {@link DamageLog}):
 * <ul>
 * <li>a journal whose last record was cut short (a write never acknowledged) is cut back to its last whole record;</li>
 * <li>a journal with a rollback marker ({@link KvJournal#rollbackMarker}: a write failed, its client was told so, and
 * cutting it failed too before the process ended) is cut at the marker before it is replayed, the bytes cut copied into
 * the quarantine and reported; a marker that cannot be read leaves the session in place, reported and skipped;</li>
 * <li>a damaged record with intact records after it is skipped: the damaged journal is copied into the quarantine and
 * reported with the bytes lost, and when every later record still applies in order (the damaged record was the last
 * of its head, or in another head) the session is served and its journal rewritten without the damaged bytes; a head
 * whose damaged record was its last comes back shorter (its next write then names the position it really has);</li>
 * <li>when a record after the damage no longer applies (it would leave a hole in a head), the whole session folder is
 * moved to the quarantine and reported, and its id is free again;</li>
 * <li>a folder with a journal but no {@code session.properties}, or a damaged one ({@link CorruptFileException}, a
 * framed file whose magic number is damaged, a plain file of an earlier build that cannot be parsed), is moved to the
 * quarantine and reported;</li>
 * <li>a session over this store's {@link KvSessionLimits}, one whose intact {@code session.properties} this build
 * cannot read (another format version, a storage, retriever or head policy it does not know: a newer build's), one whose
 * configuration cannot be read now (an I/O error: a permission, too many open files), or that cannot be loaded for any
 * other reason (an OutOfMemoryError in its replay included), is left in place, reported and skipped
 * ({@link #unloaded()}); its id stays taken (create refuses it) until an operator moves it, and a build or a
 * configuration that reads it serves it again.</li>
 * </ul>
 * The rest of the store comes up in every case. Entries that are not session ids, and the {@code quarantine} folder,
 * are never read; a {@code .deleted-<id>-<nanos>} folder is a deleted session's ({@link #delete}), whose files the open
 * finishes removing.
 */
public final class KvSessionStore implements KvSessions {

    private static final System.Logger LOG = System.getLogger(KvSessionStore.class.getName());
    /** The store's name in the {@link DamageLog}. */
    public static final String STORE = "kv";
    static final String CONFIG = "session.properties";
    static final String JOURNAL = "journal.log";
    /**
     * A deleted session's folder is first renamed to {@code .deleted-<id>-<nanos>} (a name no id can have: ids never
     * start with a dot), then emptied; a folder of that name found at open is the rest of a delete cut short.
     */
    static final String DELETED = ".deleted-";
    /** The suffix of the copy of a journal's unacknowledged bytes ({@link KvSessionLoader}), before it goes to the quarantine. */
    static final String UNACKNOWLEDGED = ".unacknowledged";

    private final Path root;
    private final Scorer scorer;
    private final Executor builds;
    private final Executor indexer;
    private final KvDurability durability;
    private final KvSessionLimits limits;
    private final KvSessionLoader loader;
    private final Map<String, KvSession> sessions = new ConcurrentHashMap<>();
    private final Map<String, Unloaded> unloaded = new ConcurrentHashMap<>();
    private final KvMemoryBudget budget;

    /** A session found on disk but not loaded: left in place, reported; its id stays taken. */
    public record Unloaded(String id, Path dir, String reason) {
    }

    /** The same with {@link KvSessionLimits#defaults()}. */
    public KvSessionStore(Path root, Scorer scorer, Executor builds, Executor indexer, KvDurability durability) throws IOException {
        this(root, scorer, builds, indexer, durability, KvSessionLimits.defaults());
    }

    /**
     * Opens the store at {@code root} (created if absent) and restores every session found there; its sessions
     * build indexes on {@code builds} and insert decoded keys on {@code indexer} (see {@link KvSession}); every session
     * follows {@code limits}, and all of them together its total.
     */
    public KvSessionStore(Path root, Scorer scorer, Executor builds, Executor indexer, KvDurability durability,
                          KvSessionLimits limits) throws IOException {
        this.durability = Objects.requireNonNull(durability, "durability");
        this.indexer = Objects.requireNonNull(indexer, "indexer");
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
        this.scorer = Objects.requireNonNull(scorer, "scorer");
        this.builds = Objects.requireNonNull(builds, "builds");
        this.limits = Objects.requireNonNull(limits, "limits");
        this.budget = new KvMemoryBudget(limits.maxTotalBytes());
        this.loader = new KvSessionLoader(this.root, scorer, builds, indexer, limits, budget, force(), this::skip);
        Files.createDirectories(this.root);
        List<Path> entries;
        try (Stream<Path> list = Files.list(this.root)) {
            entries = list.sorted().toList();
        }
        for (Path entry : entries) {
            String name = entry.getFileName().toString();
            if (name.equals(Quarantine.DIR)) {
                continue;
            }
            if (name.startsWith(DELETED)) { // a delete cut short (a crash): its session is gone, finish removing its files
                finishDeleting(entry);
                continue;
            }
            if (!ResourceId.isValid(name)) {
                LOG.log(System.Logger.Level.DEBUG, "{0} is not a KV session id: ignored", entry);
                continue;
            }
            Path dir = ResourceId.kvSession(name).resolveUnder(this.root);
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                LOG.log(System.Logger.Level.WARNING, "{0} is not a folder of a KV session (a file or a link): ignored", dir);
                continue;
            }
            KvSession s = loader.load(name, dir);
            if (s != null) {
                sessions.put(name, s);
            }
        }
    }

    private boolean force() {
        return durability == KvDurability.FSYNC;
    }

    /** A temporary file of a configuration being written ({@link DurableFile#write}'s, or an earlier build's). */
    static boolean isConfigTemporary(String name) {
        return name.equals(CONFIG + ".tmp") || name.startsWith(CONFIG + ".") && name.endsWith(".tmp");
    }

    /** Whether the store makes files of this name in the folder of session {@code id} (what a delete removes). */
    private static boolean madeByTheStore(String name, String id) {
        String marker = KvJournal.rollbackMarker(Path.of(JOURNAL)).getFileName().toString();
        return name.equals(JOURNAL) || name.equals(CONFIG) || isConfigTemporary(name) || name.equals(JOURNAL + ".rewrite")
                || name.equals(id + "." + JOURNAL) || name.equals(id + "." + JOURNAL + UNACKNOWLEDGED) || name.equals(marker)
                || name.startsWith(marker + ".") && name.endsWith(".tmp");
    }

    private void skip(String id, Path dir, String reason) {
        unloaded.put(id, new Unloaded(id, dir, reason));
        DamageLog.report(STORE, "KV session " + ResourceId.shown(id), dir, null, reason);
    }

    /**
     * Creates a durable session; its configuration is on disk before this returns. An id that is not a
     * {@link ResourceId}, or is {@code quarantine}, and a shape over the limits are an {@link IllegalArgumentException}
     * (nothing written); an id in use, or whose folder holds files of an earlier session (one not loaded, see
     * {@link #unloaded()}), an {@link IllegalStateException}; a full store a {@link KvLimitException}; a failed write an
     * {@link UncheckedIOException} (caused by a {@link StorageErrors.StorageFullException} when the disk is full), with
     * what it wrote removed.
     */
    @Override
    public synchronized KvSession create(String id, KvSessionConfig config) {
        ResourceId rid = sessionId(id);
        config.checked(); // nothing written for a configuration that cannot open
        limits.check(config);
        if (sessions.containsKey(id)) {
            throw new IllegalStateException("KV session " + ResourceId.shown(id) + " exists");
        }
        Path dir = rid.resolveUnder(root);
        // The messages below reach clients (409): they name the folder relative to the data directory, never its path.
        Unloaded u = unloaded.get(id);
        if (u != null) {
            LOG.log(System.Logger.Level.WARNING, "KV session {0} not created: {1} holds a session that was not loaded ({2})",
                    ResourceId.shown(id), dir, u.reason());
            throw new IllegalStateException("KV session " + ResourceId.shown(id) + " exists on disk but was not loaded (see the server's"
                    + " log and /health); an operator must move its folder " + shownFolder(id) + " first");
        }
        if (Files.exists(dir.resolve(JOURNAL), LinkOption.NOFOLLOW_LINKS) || Files.exists(dir.resolve(CONFIG), LinkOption.NOFOLLOW_LINKS)
                || Files.isSymbolicLink(dir)) {
            LOG.log(System.Logger.Level.WARNING, "KV session {0} not created: {1} holds files of an earlier session", ResourceId.shown(id), dir);
            throw new IllegalStateException("KV session " + ResourceId.shown(id) + ": its folder " + shownFolder(id)
                    + " holds files of an earlier session; a new session never reuses them");
        }
        KvSession s = new KvSession(id, config, scorer, builds, indexer, limits, budget);
        boolean madeDir = !Files.exists(dir);
        try {
            Files.createDirectories(dir);
            KvSessionConfigFile.write(dir.resolve(CONFIG), config);
            s.attachJournal(KvJournal.create(dir.resolve(JOURNAL), force()));
            sessions.put(id, s);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            try {
                Files.deleteIfExists(dir.resolve(JOURNAL));
                Files.deleteIfExists(dir.resolve(CONFIG));
                if (madeDir) {
                    Files.deleteIfExists(dir);
                }
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof IOException io) {
                throw failure("cannot create KV session " + ResourceId.shown(id) + " under " + dir, io);
            }
            throw (RuntimeException) e;
        }
    }

    /** A session's folder as a message shows it: relative to the data directory ({@code kv/'<id>'}), the id cut as {@link ResourceId#shown}. */
    private String shownFolder(String id) {
        Path name = root.getFileName();
        return (name == null ? "" : name + "/") + ResourceId.shown(id);
    }

    /** A valid session id ({@link ResourceId}, not the quarantine's name), or an {@link IllegalArgumentException}. */
    private static ResourceId sessionId(String id) {
        ResourceId rid = ResourceId.kvSession(id);
        if (id.equals(Quarantine.DIR)) {
            throw new IllegalArgumentException("KV session id '" + Quarantine.DIR + "' is reserved");
        }
        return rid;
    }

    /** An I/O failure as the server maps it: a full disk caused by a {@link StorageErrors.StorageFullException}. */
    private static UncheckedIOException failure(String message, IOException e) {
        if (StorageErrors.isDiskFull(e)) {
            String m = message + ": the disk is full";
            return new UncheckedIOException(m, new StorageErrors.StorageFullException(m, e));
        }
        return new UncheckedIOException(message + ": " + e, e);
    }

    /** The session, or null (also for a string that is not a valid id). */
    @Override
    public KvSession get(String id) {
        return id == null ? null : sessions.get(id);
    }

    @Override
    public List<String> ids() {
        return new ArrayList<>(sessions.keySet());
    }

    @Override
    public int size() {
        return sessions.size();
    }

    /** The limits every session follows. */
    @Override
    public KvSessionLimits limits() {
        return limits;
    }

    /** Bytes charged by every session together (against {@link KvSessionLimits#maxTotalBytes()}). */
    @Override
    public long chargedBytes() {
        return budget.charged();
    }

    /** Sessions found on disk at open but not loaded (over the limits, or failing to load), left in place. */
    public List<Unloaded> unloaded() {
        return List.copyOf(unloaded.values());
    }

    /** Damage reported about this store's files since the process started (quarantined or left in place). */
    public List<DamageLog.Damage> damage() {
        return DamageLog.under(root);
    }

    /**
     * Deletes the session: its folder is renamed atomically to a name no session id can have ({@link #DELETED}) and the
     * rename forced, so that the session is gone whatever happens next, then the session is closed and the files the
     * store made there (its configuration, journal and their temporary files) are deleted, then the folder when that is
     * empty (files it did not make are left there, and a deletion that fails is finished at the next open). False when
     * there is no such session. An id that is not a {@link ResourceId} is an {@link IllegalArgumentException}; a rename
     * that fails an {@link UncheckedIOException} (the session is still served, nothing changed).
     */
    @Override
    public synchronized boolean delete(String id) {
        ResourceId rid = sessionId(id);
        Path dir = rid.resolveUnder(root);
        KvSession s = sessions.get(id);
        if (s == null) {
            return false;
        }
        Path gone = root.resolve(DELETED + id + "-" + System.nanoTime());
        boolean renamed = false;
        try {
            fault("rename", dir);
            Files.move(dir, gone, StandardCopyOption.ATOMIC_MOVE);
            renamed = true;
        } catch (NoSuchFileException e) {
            if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                throw failure("KV session " + ResourceId.shown(id) + " was not deleted (its folder could not be renamed; it is still served)", e);
            }
            LOG.log(System.Logger.Level.WARNING, "KV session {0}: its folder {1} was gone already", ResourceId.shown(id), dir);
        } catch (IOException e) {
            throw failure("KV session " + ResourceId.shown(id) + " was not deleted (its folder could not be renamed; it is still served)", e);
        }
        sessions.remove(id);
        if (renamed) {
            try {
                DurableFile.forceDirectory(root);
            } catch (IOException e) { // renamed all the same: only a machine crash now could bring the folder back
                LOG.log(System.Logger.Level.WARNING, "KV session {0} deleted, but the rename of its folder could not be forced: {1}",
                        ResourceId.shown(id), e.toString());
            }
        }
        s.close();
        if (renamed) {
            finishDeleting(gone);
        }
        return true;
    }

    /**
     * Removes the files the store made in a deleted session's renamed folder, then the folder when that is empty (a
     * link: the link only); what fails, or files the store did not make, stay (logged; tried again at the next open).
     */
    private void finishDeleting(Path gone) {
        String name = gone.getFileName().toString();
        int dash = name.lastIndexOf('-');
        String id = dash > DELETED.length() ? name.substring(DELETED.length(), dash) : "";
        try {
            if (Files.isSymbolicLink(gone)) {
                fault("delete", gone);
                Files.delete(gone); // the link only, never what it points to
                return;
            }
            if (!Files.isDirectory(gone, LinkOption.NOFOLLOW_LINKS)) { // not what a delete leaves (an operator's file): kept
                LOG.log(System.Logger.Level.DEBUG, "{0} is not a deleted session''s folder: ignored", gone);
                return;
            }
            List<Path> files;
            try (Stream<Path> list = Files.list(gone)) {
                files = list.filter(f -> madeByTheStore(f.getFileName().toString(), id)).toList();
            }
            for (Path f : files) {
                fault("delete", f);
                Files.deleteIfExists(f);
            }
            try {
                fault("delete", gone);
                Files.deleteIfExists(gone);
            } catch (DirectoryNotEmptyException e) {
                LOG.log(System.Logger.Level.WARNING, "KV session {0} deleted; {1} also holds files it did not make, left there",
                        ResourceId.shown(id), gone);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "KV session {0} deleted, but files of it remain in {1} ({2}); removed at the next start",
                    ResourceId.shown(id), gone, e.toString());
        }
    }

    /** For tests: a failure of the store's own file operations ({@code op} {@code rename} or {@code delete} of {@code path}). */
    interface FileFault {
        void before(String op, Path path) throws IOException;
    }

    private volatile FileFault fileFault;

    /** For tests: makes {@code fault} run before each rename and deletion of {@link #delete} (null: none). */
    void injectFileFault(FileFault fault) {
        this.fileFault = fault;
    }

    private void fault(String op, Path path) throws IOException {
        FileFault f = fileFault;
        if (f != null) {
            f.before(op, path);
        }
    }

    @Override
    public void close() {
        sessions.values().forEach(KvSession::close);
        sessions.clear();
    }
}
