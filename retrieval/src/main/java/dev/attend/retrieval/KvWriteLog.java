package dev.attend.retrieval;

import java.io.IOException;

/**
 * Where a durable {@link KvSession}'s writes go before they apply, one record each in the format of its journal
 * ({@link KvRecords}): the session's own journal file ({@link KvSessionStore}) or a log that the instances of a
 * cluster share (a Kafka topic). A write is acknowledged once {@link #write} returns.
 */
public interface KvWriteLog {

    /**
     * Makes {@code record} durable. An {@link IOException} means it was not, and the session changes nothing, except a
     * {@link KvWriteUncertainException}: the log may hold it, and the session takes no more writes until it is
     * restored from the log ({@link KvSessionFencedException}).
     */
    void write(byte[] record) throws IOException;

    /** Closes the log (what it acknowledged stays durable). */
    void close() throws IOException;
}
