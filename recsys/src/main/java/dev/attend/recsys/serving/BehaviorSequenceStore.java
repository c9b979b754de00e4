package dev.attend.recsys.serving;

import dev.attend.index.store.DamageLog;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.UnsupportedFormatException;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BehaviorLogReplay.Replay;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every user's behaviours in event-time order, in memory and (when opened on a directory) in an append-only log:
 * what the recommender searches at serving time, fed by imports, {@code POST /v1/recsys/events} and (later) the
 * event stream.
 *
 * <ul>
 *   <li>A user keeps their latest {@code maxPerUser} behaviours (default {@value #DEFAULT_MAX_PER_USER}); older ones
 *       are dropped. Events arriving out of time order are inserted in place; an event equal to one already held
 *       (same item, category, action and time) is a duplicate and is dropped, so a replayed batch changes nothing.</li>
 *   <li>{@link #append} checks the whole batch first (a bad event rejects the batch and changes nothing), writes it
 *       to the log as <em>one</em> record (forced to disk when {@code fsync}), then applies it: an acknowledged batch
 *       survives a crash, and a batch is in the log whole or not at all. A write that fails (a full disk) cuts the log
 *       back to its length before the batch, leaves memory as it was and throws
 *       {@link StorageErrors.StorageFullException} (or an {@link IOException}); the next append after space returns
 *       works and is durable. Where even the cut fails, the failed record is zeroed in place and {@value #CUT_FILE}
 *       records where to cut: the next append or {@link #close} cuts it, else the next {@link #open} (copying the cut
 *       bytes to the quarantine, reported): a batch its client was told failed is never replayed.</li>
 *   <li>Opening replays the log. Each record's header has a CRC of its own (format 3), so a write cut short by a crash
 *       (a strict prefix of a record whose header checks, or an all-zero tail) is told from damage: only such a tail
 *       is cut off silently. A record that fails its checksum (damage), in the middle or at the end, is skipped, the
 *       records after it are kept, a copy of the whole log goes to {@code <dir>/quarantine/} and the damage to the
 *       {@link DamageLog} before anything is cut. When no copy can be kept there, the log is left exactly as it is (not
 *       cut, not rewritten; appends follow the damage) and that is reported: the damage is skipped again at each open.
 *       A log holding more than twice the live behaviours, a log with damage, and a log of an older format (1: one record
 *       per event; 2: no header CRC) are rewritten to the live ones (atomically: a new file renamed into place).</li>
 * </ul>
 * Thread-safe: appends to one user are serialised; readers get a consistent {@link Sequence} snapshot.
 */
public final class BehaviorSequenceStore implements SequenceSource, AutoCloseable {

    public static final int DEFAULT_MAX_PER_USER = 100_000;
    /** The store name damage is reported under ({@link DamageLog}). */
    public static final String STORE = "recsys behaviours";
    /** Written when a failed batch could not be cut back off the log: where the log is to be cut at the next open. */
    static final String CUT_FILE = "behaviors.log.cut";
    static final String LOG_FILE = "behaviors.log";

    private final Map<Long, BoundedSequence> users = new ConcurrentHashMap<>();
    private final int maxPerUser;
    private final Path dir;
    /** The log appends go to (null in memory). */
    private final BehaviorLog log;
    private long nextVersion = 1;

    /** For tests: replaces how batches are written (to inject a failure part way through one). */
    void logWrite(BehaviorLog.LogWrite w) {
        log.logWrite(w);
    }

    /** For tests: replaces how a failed write is cut back off the log. */
    void logCut(BehaviorLog.LogCut c) {
        log.logCut(c);
    }

    private BehaviorSequenceStore(Path dir, BehaviorLog log, int maxPerUser) {
        if (maxPerUser < 1) {
            throw new IllegalArgumentException("maxPerUser must be >= 1, got " + maxPerUser);
        }
        this.dir = dir;
        this.log = log;
        this.maxPerUser = maxPerUser;
    }

    /** A store that lives in memory only. */
    public static BehaviorSequenceStore inMemory(int maxPerUser) {
        return new BehaviorSequenceStore(null, null, maxPerUser);
    }

    /**
     * Opens (or creates) the store in {@code dir}, replaying its log. With {@code fsync} an append returns once its
     * batch is on disk (survives a machine crash); without, once the OS has it (survives a crash of the process).
     *
     * @throws UnsupportedFormatException when the log is of a format this build does not read (left as it is)
     * @throws IOException when the log cannot be read, or is not a behaviour log (its header), or a
     *     {@value #CUT_FILE} marker (where a failed write is to be cut off) cannot be read
     */
    public static BehaviorSequenceStore open(Path dir, int maxPerUser, boolean fsync) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(LOG_FILE);
        BehaviorLogReplay.cutFailedWrite(file, dir);
        BehaviorSequenceStore replayed = inMemory(maxPerUser);
        Replay r = null;
        if (Files.exists(file)) {
            r = BehaviorLogReplay.replay(file, dir, replayed::apply);
        }
        long live = replayed.events();
        boolean rewritable = r == null || r.copyKept();
        if (rewritable && (r == null || r.format() != BehaviorLogFormat.FORMAT_VERSION || r.damaged() || r.events() > 2 * live + 1024)) {
            BehaviorLog.rewrite(file, () -> replayed.users.keySet().stream().map(replayed::get).iterator());
        }
        // A log left as it is grows in its own format.
        BehaviorLog log = new BehaviorLog(dir, file, rewritable ? BehaviorLogFormat.FORMAT_VERSION : r.format(), fsync);
        BehaviorSequenceStore store = new BehaviorSequenceStore(dir, log, maxPerUser);
        store.users.putAll(replayed.users);
        store.nextVersion = replayed.nextVersion;
        return store;
    }

    public int maxPerUser() {
        return maxPerUser;
    }

    /** The directory of the log, or null for an in-memory store. */
    public Path directory() {
        return dir;
    }

    /**
     * Appends a batch of events (any users, any order). All or nothing: an event with a negative time, a blank or
     * over-long action is an {@link IllegalArgumentException} and nothing is written. Returns the events that were
     * new (duplicates of events already held are not counted).
     */
    public int append(List<BehaviorEvent> events) throws IOException {
        for (int i = 0; i < events.size(); i++) {
            BoundedSequence.check(events.get(i), i);
        }
        if (events.isEmpty()) {
            return 0;
        }
        if (log != null) {
            log.append(events);
        }
        return apply(events);
    }

    @Override
    public BehaviorSequence get(long user) {
        BoundedSequence u = users.get(user);
        if (u == null) {
            return BehaviorSequence.empty(user);
        }
        synchronized (u) {
            return u.snapshot(user);
        }
    }

    /** How many behaviours the user has (0 for an unknown user), without copying them. */
    @Override
    public int length(long user) {
        BoundedSequence u = users.get(user);
        if (u == null) {
            return 0;
        }
        synchronized (u) {
            return u.size();
        }
    }

    @Override
    public long version(long user) {
        BoundedSequence u = users.get(user);
        if (u == null) {
            return 0;
        }
        synchronized (u) {
            return u.version();
        }
    }

    public int users() {
        return users.size();
    }

    /** Behaviours held over all users. */
    public long events() {
        long n = 0;
        for (BoundedSequence u : users.values()) {
            synchronized (u) {
                n += u.size();
            }
        }
        return n;
    }

    /**
     * Closes the log, first cutting off what a failed write left there (a batch its client was told failed). When that
     * cannot be cut, the marker {@link #CUT_FILE} written at the failure makes the next {@link #open} cut it (and if
     * neither the cut nor the marker could be written, this throws, saying so).
     */
    @Override
    public void close() throws IOException {
        if (log != null) {
            log.close();
        }
    }

    private int apply(List<BehaviorEvent> events) {
        int added = 0;
        for (BehaviorEvent e : events) {
            BoundedSequence u = users.computeIfAbsent(e.user(), k -> new BoundedSequence());
            synchronized (u) {
                if (u.insert(e, maxPerUser)) {
                    added++;
                    u.version(nextVersion());
                }
            }
        }
        return added;
    }

    private synchronized long nextVersion() {
        return nextVersion++;
    }
}
