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
 *       to the log (forced to disk when {@code fsync}), then applies it: an acknowledged batch survives a crash.</li>
 *   <li>Opening replays the log; a torn last record (a crash in the middle of a write) is cut off. A log holding more
 *       than twice the live behaviours is rewritten to the live ones (atomically: a new file renamed into place).</li>
 * </ul>
 * Thread-safe: appends to one user are serialised; readers get a consistent {@link Sequence} snapshot.
 */
public final class BehaviorSequenceStore implements SequenceSource, AutoCloseable {

    public static final int DEFAULT_MAX_PER_USER = 100_000;
    private static final int MAGIC = 0x41424531; // "ABE1"
    private static final int HEADER_BYTES = 8; // magic, format version
    private static final int FORMAT_VERSION = 1;
    static final String LOG_FILE = "behaviors.log";

    private final Map<Long, BoundedSequence> users = new ConcurrentHashMap<>();
    private final int maxPerUser;
    private final boolean fsync;
    private final Path dir;
    private final FileChannel log;
    private final Object logLock = new Object();
    private long nextVersion = 1;

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
     */
    public static BehaviorSequenceStore open(Path dir, int maxPerUser, boolean fsync) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(LOG_FILE);
        BehaviorSequenceStore replayed = new BehaviorSequenceStore(null, null, maxPerUser, false);
        long logged = 0;
        if (Files.exists(file)) {
            logged = replay(file, replayed);
        }
        long live = replayed.events();
        if (!Files.exists(file) || logged > 2 * live + 1024) {
            rewrite(file, replayed);
        }
        FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        BehaviorSequenceStore store = new BehaviorSequenceStore(dir, channel, maxPerUser, fsync);
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
                while (buf.hasRemaining()) {
                    log.write(buf);
                }
                if (fsync) {
                    log.force(false);
                }
            }
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

    // Log format: an 8-byte header (magic, format version), then one record per event:
    // [int payload length][int CRC32C of the payload][payload: long user, long item, long category, long time,
    // short action length, action bytes (UTF-8)], little-endian.

    private static ByteBuffer encode(List<BehaviorEvent> events) {
        byte[][] actions = new byte[events.size()][];
        int bytes = 0;
        for (int i = 0; i < events.size(); i++) {
            actions[i] = events.get(i).action().getBytes(StandardCharsets.UTF_8);
            bytes += 8 + 34 + actions[i].length;
        }
        ByteBuffer buf = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        for (int i = 0; i < events.size(); i++) {
            BehaviorEvent e = events.get(i);
            int start = buf.position();
            int payload = 34 + actions[i].length;
            buf.putInt(payload).putInt(0);
            buf.putLong(e.user()).putLong(e.item()).putLong(e.category()).putLong(e.time());
            buf.putShort((short) actions[i].length).put(actions[i]);
            crc.reset();
            crc.update(buf.array(), start + 8, payload);
            buf.putInt(start + 4, (int) crc.getValue());
        }
        buf.flip();
        return buf;
    }

    /** Replays the log into {@code into}; cuts a torn or corrupt tail off the file. Returns the records read. */
    private static long replay(Path file, BehaviorSequenceStore into) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining() && ch.read(header) >= 0) {
                // read the whole header
            }
            header.flip();
            if (header.remaining() < HEADER_BYTES || header.getInt() != MAGIC) {
                throw new IOException(file + " is not a behaviour log (bad header)");
            }
            int version = header.getInt();
            if (version != FORMAT_VERSION) {
                throw new IOException(file + " has log format " + version + "; this build reads format " + FORMAT_VERSION);
            }
            java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(
                    java.nio.channels.Channels.newInputStream(ch.position(HEADER_BYTES)), 1 << 16));
            long pos = HEADER_BYTES;
            long records = 0;
            CRC32C crc = new CRC32C();
            List<BehaviorEvent> batch = new ArrayList<>();
            byte[] payload = new byte[34 + BoundedSequence.MAX_ACTION_BYTES];
            while (pos + 8 <= size) {
                int length = Integer.reverseBytes(in.readInt());
                int sum = Integer.reverseBytes(in.readInt());
                if (length < 34 || length > 34 + BoundedSequence.MAX_ACTION_BYTES || pos + 8 + length > size) {
                    break;
                }
                in.readFully(payload, 0, length);
                crc.reset();
                crc.update(payload, 0, length);
                if ((int) crc.getValue() != sum) {
                    break;
                }
                ByteBuffer p = ByteBuffer.wrap(payload, 0, length).order(ByteOrder.LITTLE_ENDIAN);
                long user = p.getLong();
                long item = p.getLong();
                long category = p.getLong();
                long time = p.getLong();
                int actionLength = p.getShort();
                if (actionLength != length - 34) {
                    break;
                }
                batch.add(new BehaviorEvent(user, item, category, new String(payload, 34, actionLength, StandardCharsets.UTF_8), time));
                if (batch.size() == 4096) {
                    into.apply(batch);
                    batch.clear();
                }
                pos += 8 + length;
                records++;
            }
            into.apply(batch);
            if (pos < size) {
                ch.truncate(pos); // a torn write at the crash: never acknowledged
                ch.force(true);
            }
            return records;
        }
    }

    /** Writes the live behaviours of {@code store} as a fresh log, atomically replacing {@code file}. */
    private static void rewrite(Path file, BehaviorSequenceStore store) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN).putInt(MAGIC).putInt(FORMAT_VERSION);
            header.flip();
            while (header.hasRemaining()) {
                ch.write(header);
            }
            for (Long user : store.users.keySet()) {
                BehaviorSequence s = store.get(user);
                List<BehaviorEvent> events = new ArrayList<>(s.length());
                for (int j = 0; j < s.length(); j++) {
                    events.add(new BehaviorEvent(s.user(), s.items()[j], s.categories()[j], s.actions()[j], s.times()[j]));
                }
                ByteBuffer buf = encode(events);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            d.force(true); // the rename itself
        } catch (IOException ignored) {
            // some file systems cannot open a directory; the rename is then as durable as they make it
        }
    }
}
