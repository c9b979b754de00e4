package dev.attend.streaming.internals;

import dev.attend.recsys.serving.BoundedSequence;
import dev.attend.streaming.EventTopics;
import dev.attend.streaming.EventWire;
import dev.attend.streaming.MalformedEventException;
import dev.attend.streaming.StreamEvent;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Applies each event of the events topic to its user's sequence in the state store (the {@link BoundedSequence}
 * rule: time order, the newest {@code maxPerUser}, duplicates dropped; the version counts the changes), and
 * forwards every record that is not an event, unchanged, with the reason in a header: downstream of it is the
 * dead-letter topic.
 */
public final class SequenceProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private final String storeName;
    private final int maxPerUser;
    private ProcessorContext<byte[], byte[]> context;
    private KeyValueStore<String, byte[]> store;

    public SequenceProcessor(String storeName, int maxPerUser) {
        this.storeName = storeName;
        this.maxPerUser = maxPerUser;
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
        this.store = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        StreamEvent event;
        try {
            event = EventWire.read(record.key(), record.value());
        } catch (MalformedEventException e) {
            Record<byte[], byte[]> dead = record.withHeaders(record.headers().add(EventTopics.REASON_HEADER,
                    e.getMessage().getBytes(StandardCharsets.UTF_8)));
            context.forward(dead);
            return;
        }
        String user = Long.toString(event.behavior().user());
        byte[] held = store.get(user);
        BoundedSequence sequence = held == null ? new BoundedSequence() : BoundedSequence.fromBytes(held);
        if (sequence.insert(event.behavior(), maxPerUser)) {
            sequence.version(sequence.version() + 1);
            store.put(user, sequence.toBytes());
        }
    }
}
