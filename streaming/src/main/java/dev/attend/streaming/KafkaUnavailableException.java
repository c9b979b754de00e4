package dev.attend.streaming;

/**
 * Kafka did not take or acknowledge events in time, or the embedded broker has stopped
 * ({@code dev.attend.broker.EmbeddedKafkaBroker.failure()}): the events may not be stored, and a retry may succeed once Kafka is
 * back. An {@link IllegalStateException}, as every failure of {@link EventProducer#send} is; a server answers it
 * with 503.
 */
public final class KafkaUnavailableException extends IllegalStateException {

    public KafkaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
