package dev.attend.streaming;

/** A record on the events topic that is not an event of the wire format; the message says why. */
public final class MalformedEventException extends Exception {

    public MalformedEventException(String reason) {
        super(reason);
    }
}
