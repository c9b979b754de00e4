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
 * The layout of sequences in the state store, one key per behaviour so that an event costs a few small writes
 * however long its user's sequence (a whole sequence as one value cost O(length) per event: 12,000 events/s):
 * <ul>
 *   <li>{@code m|<user>}: [long version][int count][long newest time], the user's change counter, length and
 *       latest event time (an event after it cannot repeat a held one: no duplicate lookup);</li>
 *   <li>{@code e|<user>|<time, 16 hex>|<fingerprint, 16 hex>}: [long item][long category][action, UTF-8], keys
 *       in the order of {@link BoundedSequence} (time, then the {@link BoundedSequence#fingerprint fingerprint} of
 *       item, category and action), so a duplicate has the key of the event it repeats: one point read finds it
 *       (two different events of one time and one fingerprint take the next free one).</li>
 * </ul>
 */
public final class SequenceKeys {

    static final StringSerializer PREFIX_SERIALIZER = new StringSerializer();

    private SequenceKeys() {
    }

    public static String meta(long user) {
        return "m|" + user;
    }

    /** The prefix of a user's behaviours. */
    public static String events(long user) {
        return "e|" + user + "|";
    }

    static String event(long user, long time, long fingerprint) {
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

    static byte[] metaValue(long version, int count, long newest) {
        return ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(version).putInt(count).putLong(newest).array();
    }

    /** The latest event time held (-1: none). */
    static long newest(byte[] meta) {
        return meta == null ? -1 : ByteBuffer.wrap(meta).order(ByteOrder.LITTLE_ENDIAN).getLong(12);
    }

    static long version(byte[] meta) {
        return meta == null ? 0 : ByteBuffer.wrap(meta).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    static int count(byte[] meta) {
        return meta == null ? 0 : ByteBuffer.wrap(meta).order(ByteOrder.LITTLE_ENDIAN).getInt(8);
    }

    static byte[] eventValue(BehaviorEvent e) {
        byte[] action = e.action().getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(16 + action.length).order(ByteOrder.LITTLE_ENDIAN).putLong(e.item()).putLong(e.category()).put(action)
                .array();
    }

    static boolean sameBehavior(byte[] value, BehaviorEvent e) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
        return b.getLong(0) == e.item() && b.getLong(8) == e.category()
                && new String(value, 16, value.length - 16, StandardCharsets.UTF_8).equals(e.action());
    }

    /** The user's version in a store (0: unknown). */
    public static long version(ReadOnlyKeyValueStore<String, byte[]> store, long user) {
        return version(store.get(meta(user)));
    }

    /** The user's length in a store (0: unknown). */
    public static int length(ReadOnlyKeyValueStore<String, byte[]> store, long user) {
        return count(store.get(meta(user)));
    }

    /** The user's sequence from a store, oldest first. */
    public static BehaviorSequence read(ReadOnlyKeyValueStore<String, byte[]> store, long user) {
        byte[] meta = store.get(meta(user));
        if (meta == null) {
            return BehaviorSequence.empty(user);
        }
        int n = count(meta);
        List<KeyValue<String, byte[]>> rows = new ArrayList<>(n);
        try (KeyValueIterator<String, byte[]> it = store.prefixScan(events(user), PREFIX_SERIALIZER)) {
            it.forEachRemaining(rows::add);
        }
        return toSequence(user, version(meta), rows);
    }

    /** A sequence from its rows (event keys and values, in key order). */
    public static BehaviorSequence toSequence(long user, long version, List<KeyValue<String, byte[]>> rows) {
        int n = rows.size();
        long[] items = new long[n];
        long[] categories = new long[n];
        long[] times = new long[n];
        String[] actions = new String[n];
        for (int i = 0; i < n; i++) {
            KeyValue<String, byte[]> row = rows.get(i);
            ByteBuffer b = ByteBuffer.wrap(row.value).order(ByteOrder.LITTLE_ENDIAN);
            items[i] = b.getLong(0);
            categories[i] = b.getLong(8);
            times[i] = timeOf(row.key);
            actions[i] = new String(row.value, 16, row.value.length - 16, StandardCharsets.UTF_8);
        }
        return new BehaviorSequence(user, items, categories, times, actions, version);
    }
}
