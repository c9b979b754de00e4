package dev.attend.retrieval;

/**
 * A prefill or append refused because it would pass a {@link KvSessionLimits} limit; nothing of it was journaled or
 * applied. {@link #scope()} says whose limit: the session's own ({@code SESSION}: its tokens per head or its bytes,
 * an HTTP 413, the write is too large for this session) or the store's total over every session ({@code STORE}: an
 * HTTP 507, the server holds too much; deleting sessions frees it).
 */
public final class KvLimitException extends IllegalStateException {

    /** Whose limit was reached. */
    public enum Scope {
        SESSION, STORE
    }

    private final Scope scope;
    private final String limitKey;
    private final long limit;

    public KvLimitException(Scope scope, String limitKey, long limit, String message) {
        super(message + " (limit " + limit + ", " + limitKey + "); nothing was written");
        this.scope = scope;
        this.limitKey = limitKey;
        this.limit = limit;
    }

    public Scope scope() {
        return scope;
    }

    /** The configuration key of the limit ({@link KvSessionLimits}'s {@code KEY_...}). */
    public String limitKey() {
        return limitKey;
    }

    public long limit() {
        return limit;
    }
}
