package dev.attend.retrieval;

import dev.attend.index.store.ResourceId;

/**
 * A prefill or append refused because its session was closed (deleted, expired, or its store closing) before the write
 * could be charged; nothing of it was journaled or applied. For a server, the session is gone: a 404, as for an id it
 * never had.
 */
public final class KvSessionClosedException extends IllegalStateException {

    private final String id;

    public KvSessionClosedException(String id) {
        super("KV session " + ResourceId.shown(id) + " is closed (deleted): the write was refused, nothing changed");
        this.id = id;
    }

    /** The session's id (unchecked: quote it with {@link ResourceId#shown}). */
    public String id() {
        return id;
    }
}
