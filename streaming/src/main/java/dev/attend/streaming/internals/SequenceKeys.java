package dev.attend.streaming.internals;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BehaviorSequence;
import dev.attend.recsys.serving.BoundedSequence;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The layout of sequences in the state stores, one key per behaviour so that an event costs a few small writes
 * however long its user's sequence (a whole sequence as one value cost O(length) per event: 12,000 events/s):
 * <ul>
 *   <li>the events store (persistent, with a changelog): {@code e|<user>|<time, 16 hex>|<fingerprint, 16 hex>}:
 *       [long item][long category][long version][action, UTF-8], keys in the order of {@link BoundedSequence}
 *       (time, then the {@link BoundedSequence#fingerprint fingerprint} of item, category and action), so a
 *       duplicate has the key of the event it repeats: one point read finds it (two different events of one time
 *       and one fingerprint take the next free one). The version is the user's change count once the event was
 *       added: the newest addition is always held (an eviction only comes with a later one), so the largest
 *       version held is the user's version;</li>
 *   <li>the meta store (in memory, no changelog): user -> [long version][int count][long newest time], the
 *       version, length and latest event time (an event after it cannot repeat a held one: no duplicate lookup).
 *       Everything in it follows from the events store ({@link #metaOf}), so it is rebuilt for a user when
 *       missing, after a restart or an eviction, instead of being written to a changelog: that halved the
 *       records per event (the changelog sends were 44% of applying an event).</li>
 * </ul>
 */
public final class SequenceKeys {

    public static final StringSerializer PREFIX_SERIALIZER = new StringSerializer();

    private SequenceKeys() {
    }

    /** The prefix of a user's behaviours. */
    public static String events(long user) {
        return "e|" + user + "|";
    }

    public static String event(long user, long time, long fingerprint) {
        StringBuilder b = new StringBuilder(48).append("e|").append(user).append('|');
        hex(b, time).append('|');
        return hex(b, fingerprint).toString();
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static StringBuilder hex(StringBuilder b, long v) {
        for (int shift = 60; shift >= 0; shift -= 4) {
            b.append(HEX[(int) (v >>> shift) & 15]);
        }
        return b;
    }

    /** The time of an event key. */
    static long timeOf(String eventKey) {
        int end = eventKey.lastIndexOf('|');
        return Long.parseUnsignedLong(eventKey, end - 16, end, 16);
    }

    public static byte[] metaValue(long version, int count, long newest) {
        return ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(version).putInt(count).putLong(newest).array();
    }

    /** The latest event time held (-1: none). */
    public static long newest(byte[] meta) {
        return meta == null ? -1 : ByteBuffer.wrap(meta).order(ByteOrder.LITTLE_ENDIAN).getLong(12);
    }

    public static long version(byte[] meta) {
        return meta == null ? 0 : ByteBuffer.wrap(meta).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    public static int count(byte[] meta) {
        return meta == null ? 0 : ByteBuffer.wrap(meta).order(ByteOrder.LITTLE_ENDIAN).getInt(8);
    }

    private static final int ACTION_AT = 24;

    public static byte[] eventValue(BehaviorEvent e, long version) {
        byte[] action = e.action().getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(ACTION_AT + action.length).order(ByteOrder.LITTLE_ENDIAN).putLong(e.item()).putLong(e.category())
                .putLong(version).put(action).array();
    }

    /** The version an event value was added at. */
    static long versionOf(byte[] eventValue) {
        return ByteBuffer.wrap(eventValue).order(ByteOrder.LITTLE_ENDIAN).getLong(16);
    }

    public static boolean sameBehavior(byte[] value, BehaviorEvent e) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
        return b.getLong(0) == e.item() && b.getLong(8) == e.category()
                && new String(value, ACTION_AT, value.length - ACTION_AT, StandardCharsets.UTF_8).equals(e.action());
    }

    /** The user's meta value as the events store implies it (null: no events), by one scan of the user's rows. */
    public static byte[] metaOf(ReadOnlyKeyValueStore<String, byte[]> events, long user) {
        long version = 0;
        int count = 0;
        String last = null;
        try (KeyValueIterator<String, byte[]> it = events.prefixScan(events(user), PREFIX_SERIALIZER)) {
            while (it.hasNext()) {
                KeyValue<String, byte[]> row = it.next();
                version = Math.max(version, versionOf(row.value));
                count++;
                last = row.key;
            }
        }
        return last == null ? null : metaValue(version, count, timeOf(last));
    }

    /** The user's meta value: from the meta store, else from the events. */
    private static byte[] meta(ReadOnlyKeyValueStore<String, byte[]> events, ReadOnlyKeyValueStore<Long, byte[]> meta, long user) {
        byte[] m = meta.get(user);
        return m != null ? m : metaOf(events, user);
    }

    /** The user's version (0: unknown). */
    public static long version(ReadOnlyKeyValueStore<String, byte[]> events, ReadOnlyKeyValueStore<Long, byte[]> meta, long user) {
        return version(meta(events, meta, user));
    }

    /** The user's length (0: unknown). */
    public static int length(ReadOnlyKeyValueStore<String, byte[]> events, ReadOnlyKeyValueStore<Long, byte[]> meta, long user) {
        return count(meta(events, meta, user));
    }

    /**
     * The user's sequence from the events store, oldest first, at the largest version its rows hold. The stream
     * removes an evicted row before it adds the row that evicts it, so a read between the two gets the earlier
     * version with a row missing and is read again once the version moves on; it never holds a version it lacks.
     */
    public static BehaviorSequence read(ReadOnlyKeyValueStore<String, byte[]> events, long user) {
        List<KeyValue<String, byte[]>> rows = new ArrayList<>();
        try (KeyValueIterator<String, byte[]> it = events.prefixScan(events(user), PREFIX_SERIALIZER)) {
            it.forEachRemaining(rows::add);
        }
        return toSequence(user, rows);
    }

    /** A sequence from its rows (event keys and values, in key order), at the largest version its rows hold. */
    public static BehaviorSequence toSequence(long user, List<KeyValue<String, byte[]>> rows) {
        int n = rows.size();
        if (n == 0) {
            return BehaviorSequence.empty(user);
        }
        long[] items = new long[n];
        long[] categories = new long[n];
        long[] times = new long[n];
        String[] actions = new String[n];
        long version = 0;
        for (int i = 0; i < n; i++) {
            KeyValue<String, byte[]> row = rows.get(i);
            ByteBuffer b = ByteBuffer.wrap(row.value).order(ByteOrder.LITTLE_ENDIAN);
            items[i] = b.getLong(0);
            categories[i] = b.getLong(8);
            version = Math.max(version, b.getLong(16));
            times[i] = timeOf(row.key);
            actions[i] = new String(row.value, ACTION_AT, row.value.length - ACTION_AT, StandardCharsets.UTF_8);
        }
        return new BehaviorSequence(user, items, categories, times, actions, version);
    }
}
