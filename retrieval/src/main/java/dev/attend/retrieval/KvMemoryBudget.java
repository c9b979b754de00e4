package dev.attend.retrieval;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes that a set of {@link KvSession}s (a {@link KvSessionStore}'s, a cluster instance's) may hold together
 * ({@link KvSessionLimits#maxTotalBytes()}): each session reserves its fixed part at open and every write before it is
 * logged, and gives back what it held when it closes.
 */
public final class KvMemoryBudget {

    private final long limit;
    private final AtomicLong total = new AtomicLong();

    /** A budget of {@code limit} bytes. */
    public KvMemoryBudget(long limit) {
        if (limit < 0) {
            throw new IllegalArgumentException("limit must be >= 0, got " + limit);
        }
        this.limit = limit;
    }

    /** Takes {@code bytes}; false (and nothing taken) when that would pass the limit. */
    boolean reserve(long bytes) {
        long now;
        do {
            now = total.get();
            if (now + bytes > limit) {
                return false;
            }
        } while (!total.compareAndSet(now, now + bytes));
        return true;
    }

    void release(long bytes) {
        total.addAndGet(-bytes);
    }

    /** Bytes held by every session of the budget together. */
    public long charged() {
        return total.get();
    }

    /** The limit. */
    public long limit() {
        return limit;
    }
}
