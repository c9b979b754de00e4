package dev.attend.streaming;

import dev.attend.retrieval.KvSession;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link KvCluster} instance's standby copies: the sessions of partitions other instances own, followed on the KV
 * topic as they grow (one consumer, one thread), so that when such a partition comes to this instance it reads only
 * what it has not read yet instead of the whole partition.
 */
final class KvStandby implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KvStandby.class);
    private static final Duration TAKE_OVER_WAIT = Duration.ofMinutes(10);

    /** A followed partition's sessions, as far as they are read. */
    record Warm(Map<String, KvSession> sessions, Map<String, Long> createdAt, long records) {
    }

    private record Followed(KvTopicLog.Joiner joiner, KvTopicLog.Sessions sessions, Map<String, Long> createdAt) {
    }

    private record TakeOver(int partition, CompletableFuture<Warm> result) {
    }

    private final String topic;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final KvTopicLog.SessionFactory open;
    private final Map<Integer, Followed> followed = new HashMap<>(); // the follower thread's
    private final ConcurrentLinkedQueue<TakeOver> takeOvers = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    private volatile Set<Integer> wanted = Set.of();
    private volatile Set<Integer> following = Set.of();
    private volatile boolean closed;

    /** Follows partitions of {@code topic} through {@code consumer} (assigned by this class), opening sessions through {@code open}. */
    KvStandby(String topic, KafkaConsumer<byte[], byte[]> consumer, KvTopicLog.SessionFactory open) {
        this.topic = topic;
        this.consumer = consumer;
        this.open = open;
        this.thread = new Thread(this::loop, "attend-kv-standby");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** The partitions to follow from now on (those dropped are closed). */
    void follow(Set<Integer> partitions) {
        wanted = Set.copyOf(partitions);
    }

    /** The partitions followed now. */
    Set<Integer> following() {
        return following;
    }

    /**
     * Stops following {@code partition} and completes with its sessions read to the partition's end as it is then, or
     * with null when it was not followed (then the caller restores it from the topic). Asked before the partition is
     * marked as this instance's, so that {@link #follow} dropping it cannot come first.
     */
    CompletableFuture<Warm> beginTakeOver(int partition) {
        TakeOver t = new TakeOver(partition, new CompletableFuture<>());
        if (closed) {
            t.result().complete(null);
        } else {
            takeOvers.add(t);
        }
        return t.result();
    }

    /** Waits for {@link #beginTakeOver}'s answer. */
    static Warm await(CompletableFuture<Warm> takeOver, int partition) throws IOException {
        try {
            return takeOver.get(TAKE_OVER_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while partition " + partition + " was taken over", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("partition " + partition + " could not be taken over from its standby: " + e, e);
        }
    }

    private void loop() {
        try {
            while (!closed) {
                for (TakeOver t; (t = takeOvers.poll()) != null; ) {
                    t.result().complete(handOver(t.partition()));
                }
                adjust();
                if (followed.isEmpty()) {
                    Thread.sleep(100);
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    take(r);
                }
            }
        } catch (InterruptedException e) {
            // closing
        } catch (RuntimeException e) {
            if (!closed) {
                LOG.error("KV standby stopped: {}", e.toString(), e);
            }
        } finally {
            followed.values().forEach(f -> f.sessions().closeAll());
            followed.clear();
            following = Set.of();
            for (TakeOver t; (t = takeOvers.poll()) != null; ) {
                t.result().complete(null);
            }
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /** One record of a followed partition; damage stops following that partition (a take-over then restores it whole). */
    private void take(ConsumerRecord<byte[], byte[]> r) {
        Followed f = followed.get(r.partition());
        if (f == null) {
            return;
        }
        try {
            f.joiner().accept(r, f.sessions());
        } catch (IOException | RuntimeException e) {
            LOG.error("KV standby of partition {} stopped at offset {}: {}", r.partition(), r.offset(), e.toString());
            drop(r.partition());
        }
    }

    /** Follows what {@link #wanted} says, from the start of each newly followed partition. */
    private void adjust() {
        Set<Integer> want = wanted;
        if (want.equals(followed.keySet())) {
            return;
        }
        for (int p : new ArrayList<>(followed.keySet())) {
            if (!want.contains(p) && takeOvers.stream().noneMatch(t -> t.partition() == p)) { // one being taken over stays
                drop(p);
            }
        }
        List<Integer> added = new ArrayList<>();
        for (int p : want) {
            if (!followed.containsKey(p)) {
                Map<String, Long> createdAt = new LinkedHashMap<>();
                followed.put(p, new Followed(new KvTopicLog.Joiner(topic), new KvTopicLog.Sessions(topic, (id, config, offset) -> {
                    createdAt.put(id, offset);
                    return open.open(id, config, offset);
                }), createdAt));
                added.add(p);
            }
        }
        assign();
        for (int p : added) {
            consumer.seek(new TopicPartition(topic, p), 0);
        }
        LOG.info("KV standby: following partitions {} of {}", followed.keySet(), topic);
    }

    private void drop(int p) {
        Followed f = followed.remove(p);
        if (f != null) {
            f.sessions().closeAll();
        }
        assign();
    }

    private void assign() {
        List<TopicPartition> tps = new ArrayList<>();
        for (int p : followed.keySet()) {
            tps.add(new TopicPartition(topic, p));
        }
        consumer.assign(tps);
        following = Set.copyOf(new HashSet<>(followed.keySet()));
    }

    /** Reads {@code partition} to its end as it is now, stops following it, and hands its sessions over (null: not followed). */
    private Warm handOver(int partition) {
        Followed f = followed.get(partition);
        if (f == null) {
            return null;
        }
        TopicPartition tp = new TopicPartition(topic, partition);
        try {
            long end = consumer.endOffsets(List.of(tp), Duration.ofSeconds(10)).get(tp);
            Set<TopicPartition> others = new HashSet<>(consumer.assignment());
            others.remove(tp);
            consumer.pause(others);
            try {
                while (consumer.position(tp) < end) {
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                        if (r.partition() == partition) { // past the end too: writes in order all the same
                            f.joiner().accept(r, f.sessions());
                        }
                    }
                }
            } finally {
                consumer.resume(others);
            }
        } catch (IOException | RuntimeException e) {
            LOG.error("KV standby of partition {} could not be read to its end: {}", partition, e.toString());
            drop(partition);
            return null;
        }
        followed.remove(partition);
        assign();
        LOG.info("KV standby: partition {} handed over ({} sessions, {} writes)", partition, f.sessions().live.size(), f.sessions().records);
        return new Warm(new LinkedHashMap<>(f.sessions().live), f.createdAt(), f.sessions().records);
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
