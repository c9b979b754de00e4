package dev.attend.streaming.internals;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.AbortTransactionSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.TopicPartition;

/**
 * Finds and aborts hanging transactions: a partition holds an open transaction that its coordinator no longer
 * tracks, so no commit or abort marker will ever close it, and read_committed readers (Kafka Streams restoring a
 * changelog, a consumer group's stable offsets) stop at it for good.
 *
 * <p>Why the engine needs this: when the process holding the embedded broker is killed in the middle of a
 * transaction and started again, the broker's transaction coordinator loads its log before the broker is
 * registered again, rolls back the dead producer's transaction on timeout, finds no leader endpoint for the
 * partitions (the broker is itself not reachable yet), skips the markers as if the partitions had been deleted, and
 * records the transaction as aborted. The partitions keep the transaction open. This is Kafka's {@code
 * kafka-transactions.sh find-hanging} and {@code abort}, limited to what the coordinator itself says: a
 * transaction is hanging when the coordinator's state for that producer is not in progress (ongoing or preparing)
 * or does not list the partition, and the partition still shows it open after the coordinator was asked.
 */
public final class HangingTransactions {

    private static final Set<TransactionState> IN_PROGRESS = EnumSet.of(TransactionState.ONGOING, TransactionState.PREPARE_ABORT,
            TransactionState.PREPARE_COMMIT, TransactionState.PREPARE_EPOCH_FENCE);

    /** A transaction aborted on one partition. */
    public record Aborted(TopicPartition partition, long producerId, int producerEpoch, long startOffset, String transactionalId) {
    }

    private record Open(TopicPartition partition, ProducerState producer) {
        long startOffset() {
            return producer.currentTransactionStartOffset().orElseThrow();
        }
    }

    private HangingTransactions() {
    }

    /** Aborts the hanging transactions on every partition of {@code topics}; returns what it aborted. */
    public static List<Aborted> abort(Admin admin, Collection<String> topics) throws InterruptedException, ExecutionException {
        List<TopicPartition> partitions = new ArrayList<>();
        for (TopicDescription d : admin.describeTopics(topics).allTopicNames().get().values()) {
            d.partitions().forEach(p -> partitions.add(new TopicPartition(d.name(), p.partition())));
        }
        List<Open> open = openTransactions(admin, partitions);
        if (open.isEmpty()) {
            return List.of();
        }
        Set<Long> producerIds = open.stream().map(o -> o.producer().producerId()).collect(Collectors.toSet());
        Map<Long, String> transactionalIds = new HashMap<>();
        for (TransactionListing l : admin.listTransactions(new ListTransactionsOptions().filterProducerIds(producerIds)).all().get()) {
            transactionalIds.put(l.producerId(), l.transactionalId());
        }
        Map<String, TransactionDescription> coordinated = transactionalIds.isEmpty() ? Map.of()
                : admin.describeTransactions(transactionalIds.values()).all().get();
        List<Open> hanging = new ArrayList<>();
        for (Open o : open) {
            TransactionDescription t = coordinated.get(transactionalIds.get(o.producer().producerId()));
            boolean tracked = t != null && t.producerId() == o.producer().producerId() && IN_PROGRESS.contains(t.state())
                    && t.topicPartitions().contains(o.partition());
            if (!tracked) {
                hanging.add(o);
            }
        }
        // asked again after the coordinator: a transaction that its coordinator completed in between is closed now
        Set<String> stillOpen = openTransactions(admin, hanging.stream().map(Open::partition).distinct().toList()).stream()
                .map(o -> key(o.partition(), o.producer().producerId(), o.producer().currentTransactionStartOffset()))
                .collect(Collectors.toSet());
        List<Aborted> aborted = new ArrayList<>();
        for (Open o : hanging) {
            ProducerState p = o.producer();
            if (!stillOpen.contains(key(o.partition(), p.producerId(), p.currentTransactionStartOffset()))) {
                continue;
            }
            admin.abortTransaction(new AbortTransactionSpec(o.partition(), p.producerId(), (short) p.producerEpoch(),
                    p.coordinatorEpoch().orElse(0))).all().get();
            aborted.add(new Aborted(o.partition(), p.producerId(), p.producerEpoch(), o.startOffset(),
                    transactionalIds.getOrDefault(p.producerId(), "?")));
        }
        return aborted;
    }

    private static List<Open> openTransactions(Admin admin, List<TopicPartition> partitions) throws InterruptedException, ExecutionException {
        if (partitions.isEmpty()) {
            return List.of();
        }
        List<Open> open = new ArrayList<>();
        admin.describeProducers(partitions).all().get().forEach((tp, state) -> state.activeProducers().stream()
                .filter(p -> p.currentTransactionStartOffset().isPresent()).forEach(p -> open.add(new Open(tp, p))));
        return open;
    }

    private static String key(TopicPartition tp, long producerId, OptionalLong start) {
        return tp + "/" + producerId + "/" + start;
    }
}
