package dev.attend.retrieval;

/**
 * A write to a session that takes no more writes until it is restored from its log: an earlier write's outcome is
 * unknown ({@link KvWriteUncertainException}), so the session may be behind its log. Nothing changed; the write may be
 * tried again once the session is restored (its positions say whether the uncertain write is in).
 */
public final class KvSessionFencedException extends IllegalStateException {

    public KvSessionFencedException(String message) {
        super(message);
    }
}
