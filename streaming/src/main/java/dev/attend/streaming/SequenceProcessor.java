package dev.attend.streaming;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BoundedSequence;
import dev.attend.streaming.internals.SequenceKeys;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Applies each event of the events topic to its user's sequence in the state store ({@link SequenceKeys} layout),
 * with the rule of {@link BoundedSequence}: time order (events of the same time by fingerprint), the newest
 * {@code maxPerUser} kept, an event equal to one held dropped, an event older than every kept one dropped when the
 * sequence is full; the version counts the changes. Every record that is not an event is forwarded unchanged with
 * the reason in a header to {@link #DEAD_LETTERS}, the dead-letter topic's sink.
 *
 * <p>An event on another partition than its key's (a producer with another partitioner than Java's murmur2, such as
 * kafkajs's legacy one) would be held by an instance that never serves its user: it is sent back to the events topic
 * ({@link #REROUTE}, whose sink partitions by the key), marked, and applied when it arrives where its user is owned.
 * One that arrives marked on a wrong partition again (the topic's partitions are not what this instance was told) is
 * dead-lettered with the reason: never left unread.
 */
final class SequenceProcessor implements Processor<byte[], byte[], byte[], byte[]> {

    private final String eventsStoreName;
    private final String metaStoreName;
    private final int maxPerUser;
    private final int partitions;
    private final Set<String> behaviors;
    private final AtomicLong deadLettered;
    private final AtomicLong rerouted;

    /** The child that writes the dead-letter topic. */
    static final String DEAD_LETTERS = "dead-letters";
    /** The child that writes an event back to the events topic, partitioned by its key. */
    static final String REROUTE = "reroute";
    /** Header of an event sent back to its key's partition: the partition it was found on. */
    static final String REROUTED_HEADER = "attend.rerouted-from";

    private ProcessorContext<byte[], byte[]> context;
    private KeyValueStore<String, byte[]> events;
    private KeyValueStore<Long, byte[]> meta;

    /** {@code behaviors}: the actions kept (others are dead letters; empty: any); {@code deadLettered} and {@code rerouted} count what this instance's processors sent to either sink. */
    public SequenceProcessor(String eventsStoreName, String metaStoreName, int maxPerUser, int partitions, Set<String> behaviors,
                             AtomicLong deadLettered, AtomicLong rerouted) {
        this.eventsStoreName = eventsStoreName;
        this.metaStoreName = metaStoreName;
        this.maxPerUser = maxPerUser;
        this.partitions = partitions;
        this.behaviors = behaviors;
        this.deadLettered = deadLettered;
        this.rerouted = rerouted;
    }

    /** The partition of the events topic that a record of this key belongs on (the Java client's default partitioner). */
    static int partitionOf(byte[] key, int partitions) {
        return Utils.toPositive(Utils.murmur2(key)) % partitions;
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
            deadLetter(record, e.getMessage());
            return;
        }
        String refused = BoundedSequence.refusedAction(event.behavior().action(), behaviors);
        if (refused != null) {
            deadLetter(record, refused);
            return;
        }
        Optional<RecordMetadata> at = context.recordMetadata();
        int expected = partitionOf(record.key(), partitions);
        if (at.isPresent() && at.get().partition() != expected) {
            int found = at.get().partition();
            if (record.headers().lastHeader(REROUTED_HEADER) == null) {
                context.forward(record.withHeaders(record.headers().add(REROUTED_HEADER, Integer.toString(found).getBytes(StandardCharsets.UTF_8))),
                        REROUTE);
                rerouted.incrementAndGet();
            } else {
                deadLetter(record, "on partition " + found + " of " + at.get().topic() + " after it was sent back to its key's partition "
                        + expected + " (of " + partitions + "): the topic's partitions are not what this instance was configured with");
            }
            return;
        }
        apply(event.behavior());
    }

    private void deadLetter(Record<byte[], byte[]> record, String reason) {
        context.forward(record.withHeaders(record.headers().add(EventTopics.REASON_HEADER, reason.getBytes(StandardCharsets.UTF_8))), DEAD_LETTERS);
        deadLettered.incrementAndGet();
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
