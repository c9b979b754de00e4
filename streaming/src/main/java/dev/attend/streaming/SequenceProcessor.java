package dev.attend.streaming;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BoundedSequence;
import dev.attend.streaming.internals.SequenceKeys;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Applies each event of the events topic to its user's sequence in the state store ({@link SequenceKeys} layout),
 * with the rule of {@link BoundedSequence}: time order (events of the same time by fingerprint), the newest
 * {@code maxPerUser} kept, an event equal to one held dropped, an event older than every kept one dropped when the
 * sequence is full; the version counts the changes. Every record that is not an event is forwarded unchanged with
 * the reason in a header: downstream of it is the dead-letter topic.
 */
final class SequenceProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private final String eventsStoreName;
    private final String metaStoreName;
    private final int maxPerUser;

    private ProcessorContext<byte[], byte[]> context;
    private KeyValueStore<String, byte[]> events;
    private KeyValueStore<Long, byte[]> meta;

    public SequenceProcessor(String eventsStoreName, String metaStoreName, int maxPerUser) {
        this.eventsStoreName = eventsStoreName;
        this.metaStoreName = metaStoreName;
        this.maxPerUser = maxPerUser;
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
        this.events = context.getStateStore(eventsStoreName);
        this.meta = context.getStateStore(metaStoreName);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        StreamEvent event;
        try {
            event = EventWire.read(record.key(), record.value());
        } catch (MalformedEventException e) {
            context.forward(record.withHeaders(record.headers().add(EventTopics.REASON_HEADER, e.getMessage().getBytes(StandardCharsets.UTF_8))));
            return;
        }
        apply(event.behavior());
    }

    private void apply(BehaviorEvent e) {
        long user = e.user();
        byte[] m = meta.get(user);
        if (m == null) {
            m = SequenceKeys.metaOf(events, user); // after a restart or an eviction from the meta store
        }
        long version = SequenceKeys.version(m);
        int count = SequenceKeys.count(m);
        long newest = SequenceKeys.newest(m);
        String key;
        for (long fp = BoundedSequence.fingerprint(e); ; fp++) {
            key = SequenceKeys.event(user, e.time(), fp);
            // in a live stream most events are the user's latest: nothing held at their time to look up
            byte[] held = e.time() > newest ? null : events.get(key);
            if (held == null) {
                break;
            }
            if (SequenceKeys.sameBehavior(held, e)) {
                return; // a duplicate
            }
        }
        if (count >= maxPerUser) {
            String oldest;
            try (KeyValueIterator<String, byte[]> all = events.prefixScan(SequenceKeys.events(user), SequenceKeys.PREFIX_SERIALIZER)) {
                oldest = all.next().key;
            }
            if (key.compareTo(oldest) < 0) {
                return; // it would be the oldest of a full sequence
            }
            events.delete(oldest); // before the put: see SequenceKeys.read
            count--;
        }
        events.put(key, SequenceKeys.eventValue(e, version + 1));
        meta.put(user, SequenceKeys.metaValue(version + 1, count + 1, Math.max(newest, e.time())));
    }
}
