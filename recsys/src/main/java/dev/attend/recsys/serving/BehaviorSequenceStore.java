package dev.attend.recsys.serving;

import dev.attend.recsys.data.BehaviorEvent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32C;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.UnsupportedFormatException;

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
    private static final int MAGIC = 0x41424531; // "ABE1"
    private static final int HEADER_BYTES = 8; // magic, format version
    /** Format 1: one record per event, {@code [int length][int CRC32C of the payload][payload]}. Read, never written. */
    private static final int FORMAT_EVENTS = 1;
    /** Format 2: one record per batch, {@code [int record magic][int length][int CRC32C of length and payload][payload]}. Read. */
    private static final int FORMAT_BATCHES = 2;
    /**
     * Format 3 (written): one record per batch, {@code [int record magic][int length][int CRC32C of the payload][int
     * CRC32C of the 12 header bytes before it][payload]}: a header that checks tells a write cut short (a strict prefix
     * of a record) from damage.
     */
    private static final int FORMAT_VERSION = 3;
    /** {@code "ABRB"} read little-endian: where a format-2 record starts (what a replay resynchronises on). */
    private static final int RECORD_MAGIC = 0x42524241;
    private static final int RECORD_HEADER = 12;
    /** {@code "ABR3"} read little-endian: where a format-3 record starts. */
    private static final int RECORD_MAGIC_3 = 0x33524241;
    private static final int RECORD_HEADER_3 = 16;
    /** Written when a failed batch could not be cut back off the log: where the log is to be cut at the next open. */
    static final String CUT_FILE = "behaviors.log.cut";
    private static final String CUT_CODEC = "attend-behaviors-cut";
    private static final int EVENT_FIXED = 34; // user, item, category, time, action length
    /** The largest record (one batch): 64 MiB, some 680,000 events. */
    static final int MAX_RECORD_BYTES = 1 << 26;
    /** Events per record when the log is rewritten. */
    private static final int REWRITE_BATCH = 4096;
    static final String LOG_FILE = "behaviors.log";
    private static final System.Logger LOG = System.getLogger(BehaviorSequenceStore.class.getName());

    private final Map<Long, BoundedSequence> users = new ConcurrentHashMap<>();
    private final int maxPerUser;
    private final boolean fsync;
    private final Path dir;
    private final FileChannel log;
    private final Object logLock = new Object();
    /** The log's length up to its last whole record (what a failed write is cut back to); under {@link #logLock}. */
    private long logEnd;
    /** The format of the log's records (an older one only where a damaged log could not be rewritten); final after open. */
    private int logFormat = FORMAT_VERSION;
    /** A failed write could not be cut back off the log (see {@link #CUT_FILE}); under {@link #logLock}. */
    private boolean cutPending;
    private long nextVersion = 1;

    /** How a batch's bytes reach the log (tests put a failing one in place); returns the bytes written. */
    @FunctionalInterface
    interface LogWrite {
        int write(FileChannel log, ByteBuffer buf, long at) throws IOException;
    }

    private volatile LogWrite logWrite = FileChannel::write;

    /** How the log is cut back to a length (tests put a failing one in place). */
    @FunctionalInterface
    interface LogCut {
        void cut(FileChannel log, long to) throws IOException;
    }

    private volatile LogCut logCut = (ch, to) -> {
        ch.truncate(to);
        ch.force(false);
    };

    /** For tests: replaces how batches are written (to inject a failure part way through one). */
    void logWrite(LogWrite w) {
        this.logWrite = w;
    }

    /** For tests: replaces how a failed write is cut back off the log. */
    void logCut(LogCut c) {
        this.logCut = c;
    }

    private BehaviorSequenceStore(Path dir, FileChannel log, int maxPerUser, boolean fsync) {
        if (maxPerUser < 1) {
            throw new IllegalArgumentException("maxPerUser must be >= 1, got " + maxPerUser);
        }
        this.dir = dir;
        this.log = log;
        this.maxPerUser = maxPerUser;
        this.fsync = fsync;
    }

    /** A store that lives in memory only. */
    public static BehaviorSequenceStore inMemory(int maxPerUser) {
        return new BehaviorSequenceStore(null, null, maxPerUser, false);
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
        cutFailedWrite(file, dir);
        BehaviorSequenceStore replayed = new BehaviorSequenceStore(null, null, maxPerUser, false);
        Replay r = null;
        if (Files.exists(file)) {
            r = replay(file, dir, replayed);
        }
        long live = replayed.events();
        boolean rewritable = r == null || r.copyKept();
        if (rewritable && (r == null || r.format() != FORMAT_VERSION || r.damaged() || r.events() > 2 * live + 1024)) {
            rewrite(file, replayed);
        }
        FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE);
        BehaviorSequenceStore store = new BehaviorSequenceStore(dir, channel, maxPerUser, fsync);
        store.logEnd = channel.size();
        store.logFormat = rewritable ? FORMAT_VERSION : r.format(); // a log left as it is grows in its own format
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
            ByteBuffer buf = encode(events, logFormat);
            synchronized (logLock) {
                if (!log.isOpen()) {
                    throw new IOException("the behaviour store is closed");
                }
                if (cutPending || log.size() != logEnd) {
                    try { // what an earlier failed write left, where cutting it back failed then
                        logCut.cut(log, logEnd);
                        clearCutMarker();
                    } catch (IOException e) {
                        throw failed(e);
                    }
                }
                try {
                    long at = logEnd;
                    LogWrite write = logWrite;
                    while (buf.hasRemaining()) {
                        at += write.write(log, buf, at);
                    }
                    if (fsync) {
                        log.force(false);
                    }
                    logEnd = at;
                } catch (IOException e) {
                    throw failed(e);
                }
            }
        }
        return apply(events);
    }

    /** Cuts the log back to its last whole record after a failed write; the exception to throw (nothing applied). */
    private IOException failed(IOException e) {
        try {
            logCut.cut(log, logEnd);
            clearCutMarker();
        } catch (IOException t) {
            e.addSuppressed(t);
            protectTail(e); // the next append or close() cuts it; until then a crash must not keep it
        }
        if (StorageErrors.isDiskFull(e)) {
            return new StorageErrors.StorageFullException("the disk of the behaviour store is full: the batch was not stored or applied; "
                    + "free space and send it again", e);
        }
        return new IOException("the behaviour log could not be written (" + e.getMessage() + "): the batch was not stored or applied", e);
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
            synchronized (logLock) {
                if (!log.isOpen()) {
                    return;
                }
                IOException problem = null;
                try {
                    if (cutPending || log.size() != logEnd) {
                        try {
                            logCut.cut(log, logEnd);
                            clearCutMarker();
                        } catch (IOException e) {
                            problem = new IOException("the behaviour log could not be cut back to " + logEnd + " bytes after a failed write ("
                                    + e.getMessage() + ")" + (Files.isRegularFile(dir.resolve(CUT_FILE)) ? "; " + CUT_FILE + " makes the next open cut it"
                                    : protectTail(e) ? "; the next open cuts it" : "; THE FAILED BATCH MAY BE REPLAYED AT THE NEXT OPEN"), e);
                        }
                    }
                } finally {
                    log.close();
                }
                if (problem != null) {
                    throw problem;
                }
            }
        }
    }

    /**
     * After a failed write that could not be cut back: zeroes its bytes in place (no new space needed; a replay cuts
     * an all-zero tail) and leaves the marker {@link #CUT_FILE} saying where the next open cuts the log. True when
     * either worked. Under {@link #logLock}.
     */
    private boolean protectTail(IOException failure) {
        cutPending = true;
        boolean zeroed = false;
        try {
            long size = log.size();
            ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(1 << 16, Math.max(0, size - logEnd)));
            for (long at = logEnd; at < size; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
                at += logWrite.write(log, zeros, at);
            }
            log.force(false);
            zeroed = true;
        } catch (IOException | RuntimeException t) {
            failure.addSuppressed(t);
        }
        boolean marked = false;
        try {
            Path marker = dir.resolve(CUT_FILE);
            if (!Files.exists(marker)) {
                DurableFile.write(marker, CUT_CODEC, 1, out -> out.writeLong(logEnd));
            }
            marked = true;
        } catch (IOException | RuntimeException t) {
            failure.addSuppressed(t);
        }
        if (!zeroed && !marked) {
            LOG.log(System.Logger.Level.ERROR, "a failed batch could not be cut off the behaviour log, zeroed or marked for cutting: "
                    + "a crash before the next write or close would replay it", failure);
        }
        return zeroed || marked;
    }

    /** The failed write is cut off: the marker, if any, goes (before anything is appended after it). */
    private void clearCutMarker() throws IOException {
        if (cutPending) {
            Path marker = dir.resolve(CUT_FILE);
            if (Files.deleteIfExists(marker)) {
                DurableFile.forceDirectory(dir);
            }
            cutPending = false;
        }
    }

    /**
     * Honours a {@link #CUT_FILE} marker: cuts the log where it says (the bytes after it, a batch whose write failed and
     * whose client was told so, copied to the quarantine and reported), then removes the marker. A marker that cannot
     * be read is an {@link IOException}: the store does not open rather than replay a batch that was refused.
     */
    private static void cutFailedWrite(Path file, Path dir) throws IOException {
        Path marker = dir.resolve(CUT_FILE);
        if (!Files.exists(marker)) {
            return;
        }
        long cutAt;
        try (DurableFile.Reader r = DurableFile.open(marker, CUT_CODEC, 1, 1)) {
            cutAt = r.in().readLong();
        } catch (IOException e) {
            throw new IOException("the behaviour store does not open: " + marker + " (where a failed write is to be cut off the log) cannot"
                    + " be read (" + e.getMessage() + "); an operator must decide: remove it to replay the log as it is", e);
        }
        if (Files.exists(file)) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long size = ch.size();
                if (size > cutAt) {
                    String reason = "the last " + (size - cutAt) + " bytes (at " + cutAt + ") are a batch whose write failed (its client was told"
                            + " so) and could not be cut back then: cut off now";
                    Path copy = Files.createTempFile(dir, LOG_FILE + ".", ".failed-write");
                    boolean kept = false;
                    try {
                        try (FileChannel out = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                            for (long at = cutAt; at < size; ) {
                                at += ch.transferTo(at, size - at, out);
                            }
                            out.force(true);
                        }
                        kept = Quarantine.moveAside(dir, STORE, "behaviour log", copy, reason) != null;
                    } catch (IOException e) {
                        DamageLog.report(STORE, "behaviour log", file, null, reason + " (no copy of them could be kept: " + e.getMessage() + ")");
                    } finally {
                        if (!kept) {
                            Files.deleteIfExists(copy);
                        }
                    }
                    ch.truncate(cutAt);
                    ch.force(true);
                } else if (size < cutAt) {
                    LOG.log(System.Logger.Level.WARNING, marker + " says to cut the log at " + cutAt + " but it holds " + size
                            + " bytes: nothing cut; the replay checks it");
                }
            }
        }
        Files.delete(marker);
        DurableFile.forceDirectory(dir);
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

    // Log format 3: an 8-byte header (magic, format version), then one record per batch:
    // [int RECORD_MAGIC_3][int payload length][int CRC32C of the payload][int CRC32C of the 12 bytes before]
    // [payload: int events, then per event long user, long item, long category, long time, short action length,
    // action bytes (UTF-8)], little-endian. Format 2 (read; written only to a damaged format-2 log that could not be
    // rewritten): [int RECORD_MAGIC][int payload length][int CRC32C of the length's 4 bytes and the payload][payload].
    // Format 1 (likewise): [int length][int CRC32C of the payload][payload: one event as above] per event.

    private static ByteBuffer encode(List<BehaviorEvent> events, int format) {
        byte[][] actions = new byte[events.size()][];
        long bytes = 4;
        for (int i = 0; i < events.size(); i++) {
            actions[i] = events.get(i).action().getBytes(StandardCharsets.UTF_8);
            bytes += EVENT_FIXED + actions[i].length;
        }
        if (bytes > MAX_RECORD_BYTES) {
            throw new IllegalArgumentException("a batch of " + events.size() + " events takes " + bytes + " bytes; at most "
                    + MAX_RECORD_BYTES + " per batch");
        }
        CRC32C crc = new CRC32C();
        if (format == FORMAT_EVENTS) {
            ByteBuffer buf = ByteBuffer.allocate((int) (bytes - 4 + 8L * events.size())).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < events.size(); i++) {
                BehaviorEvent e = events.get(i);
                int start = buf.position();
                int payload = EVENT_FIXED + actions[i].length;
                buf.putInt(payload).putInt(0);
                buf.putLong(e.user()).putLong(e.item()).putLong(e.category()).putLong(e.time());
                buf.putShort((short) actions[i].length).put(actions[i]);
                crc.reset();
                crc.update(buf.array(), start + 8, payload);
                buf.putInt(start + 4, (int) crc.getValue());
            }
            return buf.flip();
        }
        int payload = (int) bytes;
        int header = format == FORMAT_BATCHES ? RECORD_HEADER : RECORD_HEADER_3;
        ByteBuffer buf = ByteBuffer.allocate(header + payload).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(format == FORMAT_BATCHES ? RECORD_MAGIC : RECORD_MAGIC_3).putInt(payload).putInt(0);
        if (format != FORMAT_BATCHES) {
            buf.putInt(0);
        }
        buf.putInt(events.size());
        for (int i = 0; i < events.size(); i++) {
            BehaviorEvent e = events.get(i);
            buf.putLong(e.user()).putLong(e.item()).putLong(e.category()).putLong(e.time());
            buf.putShort((short) actions[i].length).put(actions[i]);
        }
        if (format == FORMAT_BATCHES) {
            crc.update(buf.array(), 4, 4); // the length
            crc.update(buf.array(), RECORD_HEADER, payload);
            buf.putInt(8, (int) crc.getValue());
        } else {
            crc.update(buf.array(), RECORD_HEADER_3, payload);
            buf.putInt(8, (int) crc.getValue());
            crc.reset();
            crc.update(buf.array(), 0, 12);
            buf.putInt(12, (int) crc.getValue());
        }
        buf.flip();
        return buf;
    }

    /**
     * What a replay found: the log's format, the events read, whether damage was skipped or cut, and whether a copy
     * of the damaged log is kept in the quarantine (false: the log must be left as it is, never rewritten).
     */
    private record Replay(int format, long events, boolean damaged, boolean copyKept) {
    }

    /** Reads a file through a window that moves forward (and back, for a resynchronising scan). */
    private static final class Window {
        private final FileChannel ch;
        private final long size;
        private ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private long start = 0;
        private int filled = 0;

        Window(FileChannel ch, long size) {
            this.ch = ch;
            this.size = size;
        }

        /** {@code n} bytes at {@code pos} (positioned at them), or null past the end of the file. */
        ByteBuffer at(long pos, int n) throws IOException {
            if (pos < 0 || n < 0 || pos + n > size) {
                return null;
            }
            if (pos < start || pos + n > start + filled) {
                if (n > buf.capacity()) {
                    buf = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
                }
                buf.clear();
                int want = (int) Math.min(buf.capacity(), size - pos);
                buf.limit(want);
                while (buf.hasRemaining()) {
                    if (ch.read(buf, pos + buf.position()) < 0) {
                        throw new java.io.EOFException("the log shrank while it was read");
                    }
                }
                start = pos;
                filled = want;
            }
            ByteBuffer view = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            view.limit((int) (pos - start) + n).position((int) (pos - start));
            return view.slice().order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /** A record read: its events and its length on disk; null where the bytes at a position are not a valid record. */
    private record Record(List<BehaviorEvent> events, int length) {
    }

    private static Record readRecord(Window w, long pos, int format, CRC32C crc) throws IOException {
        if (format == FORMAT_EVENTS) {
            ByteBuffer h = w.at(pos, 8);
            if (h == null) {
                return null;
            }
            int length = h.getInt();
            int sum = h.getInt();
            if (length < EVENT_FIXED + 1 || length > EVENT_FIXED + BoundedSequence.MAX_ACTION_BYTES) {
                return null;
            }
            ByteBuffer p = w.at(pos + 8, length);
            if (p == null) {
                return null;
            }
            crc.reset();
            crc.update(p.duplicate());
            if ((int) crc.getValue() != sum) {
                return null;
            }
            List<BehaviorEvent> one = events(p, 1, length);
            return one == null ? null : new Record(one, 8 + length);
        }
        if (format == FORMAT_VERSION) {
            ByteBuffer h = header3(w, pos, crc);
            if (h == null) {
                return null;
            }
            int length = h.getInt(4);
            ByteBuffer p = w.at(pos + RECORD_HEADER_3, length);
            if (p == null) {
                return null;
            }
            crc.reset();
            crc.update(p.duplicate());
            if ((int) crc.getValue() != h.getInt(8)) {
                return null;
            }
            int count = p.getInt();
            List<BehaviorEvent> events = events(p, count, length - 4);
            return events == null ? null : new Record(events, RECORD_HEADER_3 + length);
        }
        ByteBuffer h = w.at(pos, RECORD_HEADER);
        if (h == null || h.getInt() != RECORD_MAGIC) {
            return null;
        }
        int length = h.getInt();
        int sum = h.getInt();
        if (length < 4 || length > MAX_RECORD_BYTES) {
            return null;
        }
        ByteBuffer p = w.at(pos + RECORD_HEADER, length);
        if (p == null) {
            return null;
        }
        crc.reset();
        crc.update(h.duplicate().position(4).limit(8));
        crc.update(p.duplicate());
        if ((int) crc.getValue() != sum) {
            return null;
        }
        int count = p.getInt();
        List<BehaviorEvent> events = events(p, count, length - 4);
        return events == null ? null : new Record(events, RECORD_HEADER + length);
    }

    /** The 16 header bytes of a format-3 record at {@code pos} when they check (magic, CRC, a length in range); else null. */
    private static ByteBuffer header3(Window w, long pos, CRC32C crc) throws IOException {
        ByteBuffer h = w.at(pos, RECORD_HEADER_3);
        if (h == null || h.getInt(0) != RECORD_MAGIC_3) {
            return null;
        }
        crc.reset();
        crc.update(h.duplicate().limit(12));
        if ((int) crc.getValue() != h.getInt(12)) {
            return null;
        }
        int length = h.getInt(4);
        return length < 4 || length > MAX_RECORD_BYTES ? null : h;
    }

    /**
     * Whether the bytes from {@code pos} to the end, where no valid record starts, are a write cut short by a crash
     * (never acknowledged): all zero (the file grew, the data never landed), or a strict prefix of a record whose
     * header checks (format 3), whose magic and length fit (older formats, which have no header check), or too short
     * to hold a header but starting as one. Anything else is damage.
     */
    private static boolean tornTail(Window w, long pos, long size, int format, CRC32C crc) throws IOException {
        boolean zero = true;
        for (long p = pos; p < size && zero; p += 1 << 16) {
            ByteBuffer b = w.at(p, (int) Math.min(1 << 16, size - p));
            while (b.hasRemaining()) {
                if (b.get() != 0) {
                    zero = false;
                    break;
                }
            }
        }
        if (zero) {
            return true;
        }
        long left = size - pos;
        if (format == FORMAT_EVENTS) {
            if (left < 8) {
                return true;
            }
            int length = w.at(pos, 4).getInt();
            return length >= EVENT_FIXED + 1 && length <= EVENT_FIXED + BoundedSequence.MAX_ACTION_BYTES && 8 + (long) length > left;
        }
        int magic = format == FORMAT_BATCHES ? RECORD_MAGIC : RECORD_MAGIC_3;
        int header = format == FORMAT_BATCHES ? RECORD_HEADER : RECORD_HEADER_3;
        if (left < header) { // a header cut short: its bytes must be the magic's, as far as they go
            ByteBuffer m = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(magic);
            ByteBuffer b = w.at(pos, (int) Math.min(4, left));
            for (int i = 0; b.hasRemaining(); i++) {
                if (b.get() != m.get(i)) {
                    return false;
                }
            }
            return true;
        }
        if (format == FORMAT_VERSION) {
            ByteBuffer h = header3(w, pos, crc);
            return h != null && header + (long) h.getInt(4) > left;
        }
        ByteBuffer h = w.at(pos, RECORD_HEADER);
        int length = h.getInt(4);
        return h.getInt(0) == magic && length >= 4 && length <= MAX_RECORD_BYTES && header + (long) length > left;
    }

    /** {@code count} events filling exactly {@code bytes} of {@code p}, each as a store accepts it; else null. */
    private static List<BehaviorEvent> events(ByteBuffer p, int count, int bytes) {
        if (count < 1 || (long) count * (EVENT_FIXED + 1) > bytes) {
            return null;
        }
        List<BehaviorEvent> out = new ArrayList<>(count);
        int end = p.position() + bytes;
        byte[] action = new byte[BoundedSequence.MAX_ACTION_BYTES];
        for (int i = 0; i < count; i++) {
            if (end - p.position() < EVENT_FIXED) {
                return null;
            }
            long user = p.getLong();
            long item = p.getLong();
            long category = p.getLong();
            long time = p.getLong();
            int n = p.getShort();
            if (n < 1 || n > BoundedSequence.MAX_ACTION_BYTES || end - p.position() < n) {
                return null;
            }
            p.get(action, 0, n);
            BehaviorEvent e = new BehaviorEvent(user, item, category, new String(action, 0, n, StandardCharsets.UTF_8), time);
            try {
                BoundedSequence.check(e, i);
            } catch (IllegalArgumentException bad) {
                return null;
            }
            out.add(e);
        }
        return p.position() == end ? out : null;
    }

    /** The next position after {@code from} where a valid record starts, or -1 when there is none. */
    private static long nextRecord(Window w, long from, long size, int format, CRC32C crc) throws IOException {
        int magic = format == FORMAT_BATCHES ? RECORD_MAGIC : RECORD_MAGIC_3;
        for (long p = from; p + (format == FORMAT_EVENTS ? 8 : RECORD_HEADER) <= size; p++) {
            if (format != FORMAT_EVENTS) {
                ByteBuffer m = w.at(p, 4);
                if (m == null || m.getInt() != magic) {
                    continue;
                }
            }
            if (readRecord(w, p, format, crc) != null) {
                return p;
            }
        }
        return -1;
    }

    /**
     * Replays the log into {@code into}: skips damaged records that have valid ones after them (copying the log to
     * the quarantine and reporting it), cuts a torn tail off the file.
     */
    private static Replay replay(Path file, Path dir, BehaviorSequenceStore into) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining() && ch.read(header) >= 0) {
                // read the whole header
            }
            header.flip();
            Window w = new Window(ch, size);
            CRC32C crc = new CRC32C();
            long pos = HEADER_BYTES;
            List<String> skipped = new ArrayList<>();
            long skippedBytes = 0;
            int magic = header.remaining() < HEADER_BYTES ? 0 : header.getInt();
            int format = header.remaining() < 4 ? 0 : header.getInt();
            if (magic != MAGIC || format < FORMAT_EVENTS || format > FORMAT_VERSION) {
                long first = nextRecord(w, 0, size, FORMAT_VERSION, crc);
                int found = FORMAT_VERSION;
                if (first < 0) {
                    first = nextRecord(w, 0, size, FORMAT_BATCHES, crc);
                    found = FORMAT_BATCHES;
                }
                if (first < 0) { // no record of this store anywhere in it: not damage, another file (left as it is)
                    if (magic == MAGIC) {
                        throw new UnsupportedFormatException(file, "behaviour log format " + format + "; this build reads formats "
                                + FORMAT_EVENTS + " to " + FORMAT_VERSION + " (left as it is)");
                    }
                    throw new IOException(file + " is not a behaviour log (bad header); left as it is");
                }
                format = found; // a damaged header before valid records: skip it like any damage
                skipped.add("the header (bytes 0 to " + first + ")");
                skippedBytes += first;
                pos = first;
            }
            long events = 0;
            List<BehaviorEvent> pending = new ArrayList<>();
            while (pos < size) {
                Record r = readRecord(w, pos, format, crc);
                if (r != null) {
                    pending.addAll(r.events());
                    if (pending.size() >= REWRITE_BATCH) {
                        into.apply(pending);
                        pending.clear();
                    }
                    events += r.events().size();
                    pos += r.length();
                    continue;
                }
                long next = nextRecord(w, pos + 1, size, format, crc);
                if (next < 0) {
                    break; // nothing valid after it: a torn tail
                }
                skipped.add("bytes " + pos + " to " + next);
                skippedBytes += next - pos;
                pos = next;
            }
            into.apply(pending);
            List<String> problems = new ArrayList<>();
            if (!skipped.isEmpty()) {
                problems.add(skipped.size() + " damaged stretch(es) of the log (" + skippedBytes + " bytes: "
                        + String.join(", ", skipped.subList(0, Math.min(5, skipped.size()))) + (skipped.size() > 5 ? ", ..." : "")
                        + ") skipped; the valid records after them were kept (" + events + " events replayed)");
            }
            boolean torn = pos < size && tornTail(w, pos, size, format, crc);
            if (pos < size && !torn) {
                problems.add("the last " + (size - pos) + " bytes (at " + pos + ") are damaged, not a write cut short by a crash"
                        + " (no valid record follows them)");
            }
            boolean kept = true;
            if (!problems.isEmpty()) {
                String reason = String.join("; ", problems);
                kept = quarantineCopy(file, dir, reason);
                if (!kept) {
                    DamageLog.report(STORE, "behaviour log", file, null, reason + ". No copy of the log could be kept in the quarantine,"
                            + " so it is left as it is (not cut or rewritten): the damage is skipped again at each open");
                }
            }
            if (pos < size && (torn || kept)) {
                ch.truncate(pos); // a torn write at the crash (never acknowledged), or damage now copied to the quarantine
                ch.force(true);
            }
            return new Replay(format, events, !problems.isEmpty(), kept);
        }
    }

    /**
     * Copies the log into the store's quarantine (the log itself stays, to be cut or rewritten) and reports why; false
     * (reported, the copy removed) when no copy could be kept there.
     */
    private static boolean quarantineCopy(Path file, Path dir, String reason) {
        Path copy = null;
        try {
            copy = Files.createTempFile(dir, file.getFileName() + ".", ".damaged");
            Files.copy(file, copy, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel c = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                c.force(true);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, "the damaged behaviour log " + file + " could not be copied to the quarantine", e);
            delete(copy);
            return false;
        }
        if (Quarantine.moveAside(dir, STORE, "behaviour log", copy, reason) == null) {
            delete(copy);
            return false;
        }
        return true;
    }

    private static void delete(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "could not remove " + p, e);
            }
        }
    }

    /** Writes the live behaviours of {@code store} as a fresh log, atomically replacing {@code file}. */
    private static void rewrite(Path file, BehaviorSequenceStore store) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN).putInt(MAGIC).putInt(FORMAT_VERSION);
                header.flip();
                while (header.hasRemaining()) {
                    ch.write(header);
                }
                for (Long user : store.users.keySet()) {
                    BehaviorSequence s = store.get(user);
                    for (int from = 0; from < s.length(); from += REWRITE_BATCH) {
                        List<BehaviorEvent> events = new ArrayList<>(Math.min(REWRITE_BATCH, s.length() - from));
                        for (int j = from; j < Math.min(s.length(), from + REWRITE_BATCH); j++) {
                            events.add(new BehaviorEvent(s.user(), s.items()[j], s.categories()[j], s.actions()[j], s.times()[j]));
                        }
                        ByteBuffer buf = encode(events, FORMAT_VERSION);
                        while (buf.hasRemaining()) {
                            ch.write(buf);
                        }
                    }
                }
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            d.force(true); // the rename itself
        } catch (IOException ignored) {
            // some file systems cannot open a directory; the rename is then as durable as they make it
        }
    }
}
