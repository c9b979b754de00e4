package dev.attend.streaming.internals;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BoundedSequence;
import dev.attend.streaming.EventTopics;
import dev.attend.streaming.EventWire;
import dev.attend.streaming.MalformedEventException;
import dev.attend.streaming.StreamEvent;
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
public final class SequenceProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private final String storeName;
    private final int maxPerUser;
    /** Users' meta values recently written by this processor (the store's own, read back without RocksDB). */
    private static final int META_CACHE_USERS = 50_000;

    private ProcessorContext<byte[], byte[]> context;
    private KeyValueStore<String, byte[]> store;
    private java.util.Map<Long, byte[]> metaCache;

    public SequenceProcessor(String storeName, int maxPerUser) {
        this.storeName = storeName;
        this.maxPerUser = maxPerUser;
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
        this.store = context.getStateStore(storeName);
        // Only this task writes its users' keys, so what it wrote is what the store holds; init runs again whenever
        // the task's store is restored or rolled back, and the cache starts empty then.
        this.metaCache = new java.util.LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(java.util.Map.Entry<Long, byte[]> eldest) {
                return size() > META_CACHE_USERS;
            }
        };
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
        String metaKey = SequenceKeys.meta(user);
        byte[] meta = metaCache.get(user);
        if (meta == null) {
            meta = store.get(metaKey);
        }
        long version = SequenceKeys.version(meta);
        int count = SequenceKeys.count(meta);
        long newest = SequenceKeys.newest(meta);
        String key;
        for (long fp = BoundedSequence.fingerprint(e); ; fp++) {
            key = SequenceKeys.event(user, e.time(), fp);
            // in a live stream most events are the user's latest: nothing held at their time to look up
            byte[] held = e.time() > newest ? null : store.get(key);
            if (held == null) {
                break;
            }
            if (SequenceKeys.sameBehavior(held, e)) {
                return; // a duplicate
            }
        }
        if (count >= maxPerUser) {
            String oldest;
            try (KeyValueIterator<String, byte[]> all = store.prefixScan(SequenceKeys.events(user), SequenceKeys.PREFIX_SERIALIZER)) {
                oldest = all.next().key;
            }
            if (key.compareTo(oldest) < 0) {
                return; // it would be the oldest of a full sequence
            }
            store.delete(oldest);
            count--;
        }
        store.put(key, SequenceKeys.eventValue(e));
        byte[] updated = SequenceKeys.metaValue(version + 1, count + 1, Math.max(newest, e.time()));
        store.put(metaKey, updated);
        metaCache.put(user, updated);
    }
}
