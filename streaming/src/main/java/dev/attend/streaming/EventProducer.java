package dev.attend.streaming;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Writes events to the events topic in the wire format ({@link EventWire}); {@link #send} returns once the broker
 * has acknowledged every event of the batch (all in-sync replicas, idempotent: a retried send is not doubled).
 */
public final class EventProducer implements AutoCloseable {

    private final KafkaProducer<byte[], byte[]> producer;
    private final String topic;

    public EventProducer(String bootstrapServers, EventTopics topics) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        this.producer = new KafkaProducer<>(p);
        this.topic = topics.events();
    }

    /** Sends the batch and waits for its acknowledgement. */
    public void send(List<StreamEvent> events) throws InterruptedException {
        List<Future<RecordMetadata>> acks = new ArrayList<>(events.size());
        for (StreamEvent e : events) {
            acks.add(producer.send(new ProducerRecord<>(topic, EventWire.key(e.behavior().user()), EventWire.value(e))));
        }
        producer.flush();
        for (Future<RecordMetadata> ack : acks) {
            try {
                ack.get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("Kafka did not acknowledge an event: " + e.getCause().getMessage(), e.getCause());
            }
        }
    }

    /** Sends raw bytes as a record (tests and tools: what a misbehaving producer could write). */
    public void sendRaw(byte[] key, byte[] value) throws InterruptedException {
        try {
            producer.send(new ProducerRecord<>(topic, key, value)).get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("Kafka did not acknowledge a record: " + e.getCause().getMessage(), e.getCause());
        }
    }

    @Override
    public void close() {
        producer.close();
    }
}
