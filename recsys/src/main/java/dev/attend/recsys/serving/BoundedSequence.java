package dev.attend.recsys.serving;

import dev.attend.recsys.data.BehaviorEvent;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;

/**
 * One user's behaviours ordered by time, at most {@code max} (the newest kept), an event equal to one held (same
 * item, category, action and time) dropped: the rule of the local sequence store (the one a Kafka topology keeps
 * applies it on its own store layout, and its tests check the two agree). Not thread-safe; callers lock.
 */
public final class BoundedSequence {

    /** Longest action name held. */
    public static final int MAX_ACTION_BYTES = 64;
    /**
     * Times from here on are refused: 10^11 seconds is the year 5138, while every date since 1973 is above it in
     * milliseconds, so such a time is a client that sent milliseconds.
     */
    public static final long MILLISECONDS_FROM = 100_000_000_000L;

    private long[] items = new long[8];
    private long[] categories = new long[8];
    private long[] times = new long[8];
    private String[] actions = new String[8];
    private int size;
    private long version;

    public int size() {
        return size;
    }

    public long version() {
        return version;
    }

    public void version(long version) {
        this.version = version;
    }

    /**
     * Checks what every store refuses, with the event's place in its batch: a negative time or one in milliseconds, a
     * blank or over-long action.
     */
    public static void check(BehaviorEvent e, int index) {
        if (e == null) {
            throw new IllegalArgumentException("event " + index + " is null");
        }
        if (e.time() < 0) {
            throw new IllegalArgumentException("event " + index + ": time must be >= 0 (seconds since the epoch), got " + e.time());
        }
        if (e.time() >= MILLISECONDS_FROM) {
            throw new IllegalArgumentException("event " + index + ": time " + e.time() + " is after the year 5000 in seconds: it looks like "
                    + "milliseconds since the epoch; times are seconds since the epoch (" + e.time() / 1000 + ")");
        }
        if (e.action().isBlank()) {
            throw new IllegalArgumentException("event " + index + ": action must not be blank");
        }
        if (e.action().getBytes(StandardCharsets.UTF_8).length > MAX_ACTION_BYTES) {
            throw new IllegalArgumentException("event " + index + ": action longer than " + MAX_ACTION_BYTES + " bytes");
        }
    }

    /**
     * Why {@code action} is refused where only {@code allowed} are taken (a deployment's {@code attend.behaviors};
     * empty: any action), or null when it is not: the one rule of the HTTP routes and the Kafka topology.
     */
    public static String refusedAction(String action, Set<String> allowed) {
        if (allowed.isEmpty() || allowed.contains(action)) {
            return null;
        }
        return "action '" + action + "' is not one of " + new TreeSet<>(allowed) + " (attend.behaviors)";
    }

    /**
     * Inserts in time order, events of the same time ordered by {@link #fingerprint} (an order that does not depend
     * on arrival, so every store and every replay agrees); false for a duplicate or an event that would be the
     * oldest of a full sequence.
     */
    public boolean insert(BehaviorEvent e, int max) {
        long fp = fingerprint(e);
        int at = size;
        while (at > 0 && (times[at - 1] > e.time() || (times[at - 1] == e.time() && Long.compareUnsigned(fingerprint(at - 1), fp) > 0))) {
            at--;
        }
        for (int j = at - 1; j >= 0 && times[j] == e.time(); j--) {
            if (items[j] == e.item() && categories[j] == e.category() && actions[j].equals(e.action())) {
                return false;
            }
        }
        if (size >= max) {
            if (at == 0) {
                return false; // older than everything a full sequence keeps
            }
            dropOldest(size - max + 1);
            at = Math.max(0, at - 1);
        }
        if (size == items.length) {
            grow((int) Math.min(max, Math.max(8L, 2L * size)));
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

    /**
     * A 64-bit hash of an event's item, category and action: the order of events of the same time (unsigned), and
     * part of their key in the streaming store.
     */
    public static long fingerprint(BehaviorEvent e) {
        return fingerprint(e.item(), e.category(), e.action());
    }

    private long fingerprint(int i) {
        return fingerprint(items[i], categories[i], actions[i]);
    }

    private static long fingerprint(long item, long category, String action) {
        long h = mix(item) ^ mix(category + 0x9E3779B97F4A7C15L);
        for (int i = 0; i < action.length(); i++) {
            h = mix(h ^ action.charAt(i));
        }
        return h;
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** A copy of what is held now. */
    public BehaviorSequence snapshot(long user) {
        return new BehaviorSequence(user, Arrays.copyOf(items, size), Arrays.copyOf(categories, size), Arrays.copyOf(times, size),
                Arrays.copyOf(actions, size), version);
    }

    private void grow(int capacity) {
        items = Arrays.copyOf(items, capacity);
        categories = Arrays.copyOf(categories, capacity);
        times = Arrays.copyOf(times, capacity);
        actions = Arrays.copyOf(actions, capacity);
    }

    private void dropOldest(int n) {
        System.arraycopy(items, n, items, 0, size - n);
        System.arraycopy(categories, n, categories, 0, size - n);
        System.arraycopy(times, n, times, 0, size - n);
        System.arraycopy(actions, n, actions, 0, size - n);
        size -= n;
    }
}
