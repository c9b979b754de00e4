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
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.StorageErrors;

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
 *       works and is durable.</li>
 *   <li>Opening replays the log. A record that fails its checksum with valid records after it (damage, not a crash)
 *       is skipped, those after it are kept, a copy of the damaged log goes to {@code <dir>/quarantine/} and the
 *       damage to the {@link DamageLog}; only a torn tail (no valid record after it: a crash in the middle of a write)
 *       is cut off. A log holding more than twice the live behaviours, a log with damage, and a log of the first
 *       format are rewritten to the live ones (atomically: a new file renamed into place).</li>
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
    /** Format 2: one record per batch, {@code [int record magic][int length][int CRC32C of length and payload][payload]}. */
    private static final int FORMAT_VERSION = 2;
    /** {@code "ABRB"} read little-endian: where a format-2 record starts (what a replay resynchronises on). */
    private static final int RECORD_MAGIC = 0x42524241;
    private static final int RECORD_HEADER = 12;
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
    private long nextVersion = 1;

    /** How a batch's bytes reach the log (tests put a failing one in place); returns the bytes written. */
    @FunctionalInterface
    interface LogWrite {
        int write(FileChannel log, ByteBuffer buf, long at) throws IOException;
    }

    private volatile LogWrite logWrite = FileChannel::write;

    /** For tests: replaces how batches are written (to inject a failure part way through one). */
    void logWrite(LogWrite w) {
        this.logWrite = w;
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
     * @throws IOException when the log cannot be read, or is not a behaviour log (its header), or is of a format
     *     this build does not read
     */
    public static BehaviorSequenceStore open(Path dir, int maxPerUser, boolean fsync) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(LOG_FILE);
        BehaviorSequenceStore replayed = new BehaviorSequenceStore(null, null, maxPerUser, false);
        Replay r = null;
        if (Files.exists(file)) {
            r = replay(file, dir, replayed);
        }
        long live = replayed.events();
        if (r == null || r.format() != FORMAT_VERSION || r.damaged() || r.events() > 2 * live + 1024) {
            rewrite(file, replayed);
        }
        FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE);
        BehaviorSequenceStore store = new BehaviorSequenceStore(dir, channel, maxPerUser, fsync);
        store.logEnd = channel.size();
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
            ByteBuffer buf = encode(events);
            synchronized (logLock) {
                if (!log.isOpen()) {
                    throw new IOException("the behaviour store is closed");
                }
                if (log.size() != logEnd) {
                    log.truncate(logEnd); // what an earlier failed write left, if cutting it back failed then
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
            log.truncate(logEnd);
            log.force(false);
        } catch (IOException t) {
            e.addSuppressed(t); // the next append cuts it first; a replay would skip it anyway
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

    @Override
    public void close() throws IOException {
        if (log != null) {
            synchronized (logLock) {
                log.close();
            }
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

    // Log format 2: an 8-byte header (magic, format version), then one record per batch:
    // [int RECORD_MAGIC][int payload length][int CRC32C of the length's 4 bytes and the payload]
    // [payload: int events, then per event long user, long item, long category, long time, short action length,
    // action bytes (UTF-8)], little-endian. Format 1 (read only): [int length][int CRC32C of the payload]
    // [payload: one event as above] per event.

    private static ByteBuffer encode(List<BehaviorEvent> events) {
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
        int payload = (int) bytes;
        ByteBuffer buf = ByteBuffer.allocate(RECORD_HEADER + payload).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(RECORD_MAGIC).putInt(payload).putInt(0);
        buf.putInt(events.size());
        for (int i = 0; i < events.size(); i++) {
            BehaviorEvent e = events.get(i);
            buf.putLong(e.user()).putLong(e.item()).putLong(e.category()).putLong(e.time());
            buf.putShort((short) actions[i].length).put(actions[i]);
        }
        CRC32C crc = new CRC32C();
        crc.update(buf.array(), 4, 4); // the length
        crc.update(buf.array(), RECORD_HEADER, payload);
        buf.putInt(8, (int) crc.getValue());
        buf.flip();
        return buf;
    }

    /** What a replay found: the log's format, the events read, whether damage was skipped. */
    private record Replay(int format, long events, boolean damaged) {
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
        for (long p = from; p + (format == FORMAT_EVENTS ? 8 : RECORD_HEADER) <= size; p++) {
            if (format == FORMAT_VERSION) {
                ByteBuffer m = w.at(p, 4);
                if (m == null || m.getInt() != RECORD_MAGIC) {
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
            if (magic != MAGIC || (format != FORMAT_EVENTS && format != FORMAT_VERSION)) {
                long first = nextRecord(w, 0, size, FORMAT_VERSION, crc);
                if (first < 0) { // no record of this store anywhere in it: not damage, another file
                    throw new IOException(file + (magic != MAGIC ? " is not a behaviour log (bad header)"
                            : " has log format " + format + "; this build reads formats " + FORMAT_EVENTS + " and " + FORMAT_VERSION));
                }
                format = FORMAT_VERSION; // a damaged header before valid records: skip it like any damage
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
            boolean damaged = !skipped.isEmpty();
            if (damaged) {
                quarantineCopy(file, dir, skipped.size() + " damaged stretch(es) of the log (" + skippedBytes + " bytes: "
                        + String.join(", ", skipped.subList(0, Math.min(5, skipped.size()))) + (skipped.size() > 5 ? ", ..." : "")
                        + ") skipped; the valid records after them were kept (" + events + " events replayed)");
            }
            if (pos < size) {
                int tailLength = size - pos >= RECORD_HEADER ? w.at(pos + 4, 4).getInt() : -1;
                if (!damaged && format == FORMAT_VERSION && tailLength >= 4 && w.at(pos, 4).getInt() == RECORD_MAGIC
                        && pos + RECORD_HEADER + (long) tailLength <= size) {
                    // a whole record with a wrong checksum at the end: likely damage, not a torn write; keep a copy
                    quarantineCopy(file, dir, "the last record (" + (size - pos) + " bytes at " + pos + ") fails its checksum; cut off");
                }
                ch.truncate(pos); // a torn write at the crash: never acknowledged
                ch.force(true);
            }
            return new Replay(format, events, damaged);
        }
    }

    /** Copies the log into the store's quarantine (the log itself stays, to be rewritten) and reports why. */
    private static void quarantineCopy(Path file, Path dir, String reason) throws IOException {
        Path copy = file.resolveSibling(file.getFileName() + ".damaged");
        Files.copy(file, copy, StandardCopyOption.REPLACE_EXISTING);
        if (Quarantine.moveAside(dir, STORE, "behaviour log", copy, reason) == null) {
            Files.deleteIfExists(copy);
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
                        ByteBuffer buf = encode(events);
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
