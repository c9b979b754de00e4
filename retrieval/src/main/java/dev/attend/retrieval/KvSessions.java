package dev.attend.retrieval;

import java.util.List;

/**
 * The KV sessions a server holds, by id: those of a directory ({@link KvSessionStore}) or those of the partitions an
 * instance of a cluster owns (a Kafka topic as their log). Creating, finding and deleting sessions is the same either
 * way; what makes their writes durable differs.
 */
public interface KvSessions extends AutoCloseable {

    /**
     * Creates a durable session. An id that is not a valid session id and a shape over the limits are an
     * {@link IllegalArgumentException}; an id in use an {@link IllegalStateException}; no room a {@link KvLimitException};
     * a log that fails an {@link java.io.UncheckedIOException}. Nothing is created on failure.
     */
    KvSession create(String id, KvSessionConfig config);

    /** The session, or null. */
    KvSession get(String id);

    /** Deletes the session (false when there is none here). */
    boolean delete(String id);

    /** The ids of the sessions held. */
    List<String> ids();

    /** Sessions held. */
    int size();

    /** The limits every session follows. */
    KvSessionLimits limits();

    /** Bytes charged by every session together. */
    long chargedBytes();

    @Override
    void close();
}
