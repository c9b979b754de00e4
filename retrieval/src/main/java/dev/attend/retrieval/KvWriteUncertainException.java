package dev.attend.retrieval;

import java.io.IOException;

/**
 * A {@link KvWriteLog} write whose outcome is unknown (the log stopped answering after it was sent): the record may be
 * in the log and come back when the session is restored from it.
 */
public final class KvWriteUncertainException extends IOException {

    public KvWriteUncertainException(String message, Throwable cause) {
        super(message, cause);
    }
}
