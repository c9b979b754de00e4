package dev.attend.retrieval;

import dev.attend.index.store.ResourceId;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What one {@link KvSession} is charged ({@link KvSessionLimits}): its fixed part at open, then every token and kept
 * prefill query written, against its own limit and its store's total ({@link KvMemoryBudget}). A charge is reserved before a
 * write is journaled and given back when the write fails; a closed session is charged nothing more.
 */
final class SessionCharges {

    private final String id;
    private final KvSessionConfig config;
    private final KvSessionLimits limits;
    /** The store's total over every session, or null outside a store. */
    private final KvMemoryBudget budget;
    private final AtomicLong charged = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Charges the session's fixed part, or refuses the session when the store's total has no room for it. */
    SessionCharges(String id, KvSessionConfig config, KvSessionLimits limits, KvMemoryBudget budget) {
        this.id = id;
        this.config = config;
        this.limits = limits;
        this.budget = budget;
        long fixed = KvSessionLimits.fixedBytes(config);
        if (budget != null && !budget.reserve(fixed)) {
            throw new KvLimitException(KvLimitException.Scope.STORE, KvSessionLimits.KEY_MAX_TOTAL_BYTES, limits.maxTotalBytes(),
                    "the KV sessions held are too large to open another of " + fixed + " bytes");
        }
        charged.set(fixed);
    }

    long charged() {
        return charged.get();
    }

    /** Marks the session closed; false when it was already. */
    boolean close() {
        return !closed.getAndSet(true);
    }

    boolean closed() {
        return closed.get();
    }

    /** Gives everything charged back to the store's total (at close, once no write can charge again). */
    void releaseAll() {
        if (budget != null) {
            budget.release(charged.get());
        }
    }

    /**
     * Reserves what a write of {@code rows} tokens from {@code position} (and {@code queries} kept prefill queries) costs,
     * under h's monitor, or refuses it with a {@link KvLimitException} (a closed session with a
     * {@link KvSessionClosedException}); returns the bytes reserved.
     */
    long charge(SessionHead h, int position, int rows, int queries) {
        if (closed.get()) { // under h's monitor: close() releases the charges only after it has held every head's
            throw new KvSessionClosedException(id);
        }
        if ((long) position + rows > limits.maxTokensPerHead()) {
            throw new KvLimitException(KvLimitException.Scope.SESSION, KvSessionLimits.KEY_MAX_TOKENS_PER_HEAD, limits.maxTokensPerHead(),
                    "KV session " + ResourceId.shown(id) + ": " + rows + " tokens from position " + position + " would pass the tokens a head may hold");
        }
        long bytes = rows * KvSessionLimits.tokenBytes(config) + queries * KvSessionLimits.queryBytes(config)
                + (h.charged() ? 0 : KvSessionLimits.HEAD_OVERHEAD_BYTES);
        long now;
        do {
            now = charged.get();
            if (now + bytes > limits.maxSessionBytes()) {
                throw new KvLimitException(KvLimitException.Scope.SESSION, KvSessionLimits.KEY_MAX_SESSION_BYTES, limits.maxSessionBytes(),
                        "KV session " + ResourceId.shown(id) + " holds " + now + " bytes; this write of " + bytes + " more would pass its limit");
            }
        } while (!charged.compareAndSet(now, now + bytes));
        if (budget != null && !budget.reserve(bytes)) {
            charged.addAndGet(-bytes);
            throw new KvLimitException(KvLimitException.Scope.STORE, KvSessionLimits.KEY_MAX_TOTAL_BYTES, limits.maxTotalBytes(),
                    "the KV sessions held are too large for a write of " + bytes + " more bytes (to KV session " + ResourceId.shown(id) + ")");
        }
        return bytes;
    }

    void uncharge(long bytes) {
        charged.addAndGet(-bytes);
        if (budget != null) {
            budget.release(bytes);
        }
    }
}
