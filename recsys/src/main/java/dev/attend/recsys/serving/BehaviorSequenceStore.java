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
public final class BehaviorSequenceStore implements AutoCloseable {

    public static final int DEFAULT_MAX_PER_USER = 100_000;
    /** Longest action name kept in the log. */
    static final int MAX_ACTION_BYTES = 64;
    private static final int MAGIC = 0x41424531; // "ABE1"
    private static final int HEADER_BYTES = 8; // magic, format version
    private static final int FORMAT_VERSION = 1;
    static final String LOG_FILE = "behaviors.log";

    /** A user's behaviours at one moment, oldest first; {@code version} changes whenever they do. */
    public record Sequence(long user, long[] items, long[] categories, long[] times, String[] actions, long version) {

        public int length() {
            return items.length;
        }
    }

    private final Map<Long, UserLog> users = new ConcurrentHashMap<>();
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
            check(events.get(i), i);
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

    /** The user's behaviours now (empty for an unknown user). */
    public Sequence get(long user) {
        UserLog u = users.get(user);
        if (u == null) {
            return new Sequence(user, new long[0], new long[0], new long[0], new String[0], 0);
        }
        synchronized (u) {
            return new Sequence(user, Arrays.copyOf(u.items, u.size), Arrays.copyOf(u.categories, u.size), Arrays.copyOf(u.times, u.size),
                    Arrays.copyOf(u.actions, u.size), u.version);
        }
    }

    /** How many behaviours the user has (0 for an unknown user), without copying them. */
    public int length(long user) {
        UserLog u = users.get(user);
        if (u == null) {
            return 0;
        }
        synchronized (u) {
            return u.size;
        }
    }

    /** The version of the user's behaviours (0 for an unknown user): cheap, for caches. */
    public long version(long user) {
        UserLog u = users.get(user);
        if (u == null) {
            return 0;
        }
        synchronized (u) {
            return u.version;
        }
    }

    public int users() {
        return users.size();
    }

    /** Behaviours held over all users. */
    public long events() {
        long n = 0;
        for (UserLog u : users.values()) {
            synchronized (u) {
                n += u.size;
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

    private static void check(BehaviorEvent e, int index) {
        if (e == null) {
            throw new IllegalArgumentException("event " + index + " is null");
        }
        if (e.time() < 0) {
            throw new IllegalArgumentException("event " + index + ": time must be >= 0 (seconds since the epoch), got " + e.time());
        }
        if (e.action().isBlank()) {
            throw new IllegalArgumentException("event " + index + ": action must not be blank");
        }
        if (e.action().getBytes(StandardCharsets.UTF_8).length > MAX_ACTION_BYTES) {
            throw new IllegalArgumentException("event " + index + ": action longer than " + MAX_ACTION_BYTES + " bytes");
        }
    }

    private int apply(List<BehaviorEvent> events) {
        int added = 0;
        for (BehaviorEvent e : events) {
            UserLog u = users.computeIfAbsent(e.user(), k -> new UserLog());
            synchronized (u) {
                if (u.insert(e, maxPerUser)) {
                    added++;
                    u.version = nextVersion();
                }
            }
        }
        return added;
    }

    private synchronized long nextVersion() {
        return nextVersion++;
    }

    /** One user's behaviours, time-ordered, in growable arrays. */
    private static final class UserLog {
        long[] items = new long[8];
        long[] categories = new long[8];
        long[] times = new long[8];
        String[] actions = new String[8];
        int size;
        long version;

        /** Inserts in time order (after events of the same time); false for a duplicate or an event older than all kept when full. */
        boolean insert(BehaviorEvent e, int max) {
            int at = size;
            while (at > 0 && times[at - 1] > e.time()) {
                at--;
            }
            for (int j = at - 1; j >= 0 && times[j] == e.time(); j--) {
                if (items[j] == e.item() && categories[j] == e.category() && actions[j].equals(e.action())) {
                    return false;
                }
            }
            if (size == max) {
                if (at == 0) {
                    return false; // older than everything a full sequence keeps
                }
                shiftLeft();
                at--;
            }
            if (size == items.length) {
                int cap = (int) Math.min(max, Math.max(8L, 2L * size));
                items = Arrays.copyOf(items, cap);
                categories = Arrays.copyOf(categories, cap);
                times = Arrays.copyOf(times, cap);
                actions = Arrays.copyOf(actions, cap);
            }
            int tail = size - at;
            System.arraycopy(items, at, items, at + 1, tail);
            System.arraycopy(categories, at, categories, at + 1, tail);
            System.arraycopy(times, at, times, at + 1, tail);
            System.arraycopy(actions, at, actions, at + 1, tail);
            items[at] = e.item();
            categories[at] = e.category();
            times[at] = e.time();
            actions[at] = e.action().intern();
            size++;
            return true;
        }

        /** Drops the oldest behaviour. */
        private void shiftLeft() {
            System.arraycopy(items, 1, items, 0, size - 1);
            System.arraycopy(categories, 1, categories, 0, size - 1);
            System.arraycopy(times, 1, times, 0, size - 1);
            System.arraycopy(actions, 1, actions, 0, size - 1);
            size--;
        }
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
            byte[] payload = new byte[34 + MAX_ACTION_BYTES];
            while (pos + 8 <= size) {
                int length = Integer.reverseBytes(in.readInt());
                int sum = Integer.reverseBytes(in.readInt());
                if (length < 34 || length > 34 + MAX_ACTION_BYTES || pos + 8 + length > size) {
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
            for (Map.Entry<Long, UserLog> e : store.users.entrySet()) {
                Sequence s = store.get(e.getKey());
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
