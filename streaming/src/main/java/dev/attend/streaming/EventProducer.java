package dev.attend.streaming;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Writes events to the events topic in the wire format ({@link EventWire}); {@link #send} returns once the broker
 * has acknowledged every event of the batch (all in-sync replicas, idempotent: a retried send is not doubled).
 *
 * <p>When Kafka is gone a send does not wait for long: {@link KafkaUnavailableException} once the topic's metadata
 * is not had within {@link #MAX_BLOCK} or an event is not acknowledged within {@link #DELIVERY_TIMEOUT} (Kafka's
 * defaults are 60 s and 120 s), and at once (within 100 ms, also for a send already waiting) when the embedded
 * broker it was given has stopped.
 */
public final class EventProducer implements AutoCloseable {

    /** The longest a send waits for the topic's metadata (partitions and their leaders) when it has none. */
    public static final Duration MAX_BLOCK = Duration.ofSeconds(10);
    /** The longest an event may wait for its acknowledgement, retries included. */
    public static final Duration DELIVERY_TIMEOUT = Duration.ofSeconds(30);

    private final KafkaProducer<byte[], byte[]> producer;
    private final String topic;
    private final Supplier<Optional<String>> brokerFailure;

    public EventProducer(String bootstrapServers, EventTopics topics) {
        this(bootstrapServers, topics, Optional::empty);
    }

    /**
     * A producer that stops waiting as soon as {@code brokerFailure} names a reason (an embedded broker's
     * {@code EmbeddedKafkaBroker.failure()}).
     */
    public EventProducer(String bootstrapServers, EventTopics topics, Supplier<Optional<String>> brokerFailure) {
        this(bootstrapServers, topics, brokerFailure, Map.of());
    }

    /** The same, with a cluster's client settings ({@link KafkaClientProperties}: TLS, SASL, ...). */
    public EventProducer(String bootstrapServers, EventTopics topics, Supplier<Optional<String>> brokerFailure, Map<String, String> client) {
        this.brokerFailure = brokerFailure;
        Properties p = KafkaClientProperties.base(client);
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // No linger: send() no longer flushes (a flush waits whatever happens to the broker), and a batch waiting out
        // a linger cost its events 5 ms of freshness (bench/RESULTS.md); batches still form while a request is in flight.
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) MAX_BLOCK.toMillis());
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000); // the delivery timeout must cover one request
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) DELIVERY_TIMEOUT.toMillis());
        this.producer = new KafkaProducer<>(p);
        this.topic = topics.events();
    }

    /**
     * Sends the batch and waits for its acknowledgement. Kafka gone (see the class comment) is a
     * {@link KafkaUnavailableException}; another refusal an {@link IllegalStateException}. No flush: a flush waits
     * for every event whatever happens to the broker, so the batch goes out on its own (no linger).
     */
    public void send(List<StreamEvent> events) throws InterruptedException {
        checkBroker();
        List<Future<RecordMetadata>> acks = new ArrayList<>(events.size());
        try {
            for (StreamEvent e : events) {
                acks.add(producer.send(new ProducerRecord<>(topic, EventWire.key(e.behavior().user()), EventWire.value(e))));
            }
        } catch (KafkaException e) {
            throw refused("Kafka did not take the events", e);
        }
        for (Future<RecordMetadata> ack : acks) {
            await(ack, "an event");
        }
    }

    /** Sends raw bytes as a record (tests and tools: what a misbehaving producer could write). */
    public void sendRaw(byte[] key, byte[] value) throws InterruptedException {
        checkBroker();
        Future<RecordMetadata> ack;
        try {
            ack = producer.send(new ProducerRecord<>(topic, key, value));
        } catch (KafkaException e) {
            throw refused("Kafka did not take the record", e);
        }
        await(ack, "a record");
    }

    /** Waits for an acknowledgement, looking at the embedded broker's health every 100 ms. */
    private void await(Future<RecordMetadata> ack, String what) throws InterruptedException {
        while (true) {
            try {
                ack.get(100, TimeUnit.MILLISECONDS);
                return;
            } catch (TimeoutException waiting) {
                checkBroker();
            } catch (ExecutionException e) {
                throw refused("Kafka did not acknowledge " + what, e.getCause());
            }
        }
    }

    private void checkBroker() {
        Optional<String> failed = brokerFailure.get();
        if (failed.isPresent()) {
            throw new KafkaUnavailableException("the embedded Kafka broker has stopped: " + failed.get(), null);
        }
    }

    /** A timeout or a retriable error is Kafka being unavailable; anything else a refusal. */
    private IllegalStateException refused(String what, Throwable cause) {
        String message = what + ": " + cause.getMessage();
        if (cause instanceof org.apache.kafka.common.errors.TimeoutException || cause instanceof RetriableException
                || cause instanceof InterruptException || brokerFailure.get().isPresent()) {
            return new KafkaUnavailableException(brokerFailure.get().map(r -> message + " (the embedded broker has stopped: " + r + ")")
                    .orElse(message), cause);
        }
        return new IllegalStateException(message, cause);
    }

    /** Closes the producer: waits up to 30 s for events still unacknowledged, none when the embedded broker has stopped. */
    @Override
    public void close() {
        producer.close(brokerFailure.get().isPresent() ? Duration.ZERO : Duration.ofSeconds(30));
    }
}
