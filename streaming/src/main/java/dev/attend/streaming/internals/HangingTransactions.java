package dev.attend.streaming.internals;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 * Finds hanging transactions and aborts those that were decided as aborted: a partition holds an open transaction
 * that its coordinator no longer tracks, so no commit or abort marker will ever close it, and read_committed
 * readers (Kafka Streams restoring a changelog, a consumer group's stable offsets) stop at it for good.
 *
 * <p>Why the engine needs this: when the process holding the embedded broker is killed in the middle of a
 * transaction and started again, the broker's transaction coordinator can load its log before the broker is
 * registered again, roll the dead producer's transaction back on timeout, find no leader endpoint for the
 * partitions (the broker is itself not reachable yet), skip the markers as if the partitions had been deleted, and
 * record the transaction as aborted. The partitions keep the transaction open. This is Kafka's {@code
 * kafka-transactions.sh find-hanging} followed by {@code abort}, limited to what the coordinator's record proves:
 * <ul>
 *   <li>in progress (ongoing or preparing) and listing the partition: not hanging, the coordinator will finish it;
 *   <li>aborted ({@code CompleteAbort}, or {@code PrepareAbort} without the partition) at the epoch that follows
 *       the partition's (transaction version 2 bumps the epoch when a transaction ends), or no record of the
 *       producer at all: aborted here, which is what its coordinator decided (or, without a record, what nothing
 *       can contradict: a commit is recorded before its markers are written);
 *   <li>anything else (committed, or a record that moved on since, say {@code Empty} after a new producer
 *       incarnation): reported, not touched, since aborting a transaction whose commit lost its markers would drop
 *       committed records. {@code kafka-transactions.sh} can finish those by hand.
 * </ul>
 * A transaction is acted on only when the partition still shows it open (same producer, epoch and start) after
 * the coordinator was asked.
 */
public final class HangingTransactions {

    private static final Set<TransactionState> IN_PROGRESS = EnumSet.of(TransactionState.ONGOING, TransactionState.PREPARE_ABORT,
            TransactionState.PREPARE_COMMIT, TransactionState.PREPARE_EPOCH_FENCE);

    /** A transaction open on one partition that its coordinator does not track. */
    public record Hanging(TopicPartition partition, long producerId, int producerEpoch, long startOffset, String transactionalId,
                          String coordinatorState) {
    }

    /** What a look found: the hanging transactions it aborted, and those it left (their coordinator's record does not say aborted). */
    public record Repair(List<Hanging> aborted, List<Hanging> leftOpen) {
    }

    private record Open(TopicPartition partition, ProducerState producer) {
        long startOffset() {
            return producer.currentTransactionStartOffset().orElseThrow();
        }

        String key() {
            return partition + "/" + producer.producerId() + "/" + producer.producerEpoch() + "/" + producer.currentTransactionStartOffset();
        }
    }

    private HangingTransactions() {
    }

    /**
     * Looks for hanging transactions on every partition of {@code topics} and aborts those decided as aborted. A
     * failed abort of one leaves that one in {@link Repair#leftOpen} and goes on with the others.
     */
    public static Repair repair(Admin admin, Collection<String> topics) throws InterruptedException, ExecutionException {
        List<TopicPartition> partitions = new ArrayList<>();
        for (TopicDescription d : admin.describeTopics(topics).allTopicNames().get().values()) {
            d.partitions().forEach(p -> partitions.add(new TopicPartition(d.name(), p.partition())));
        }
        List<Open> open = openTransactions(admin, partitions);
        if (open.isEmpty()) {
            return new Repair(List.of(), List.of());
        }
        Set<Long> producerIds = open.stream().map(o -> o.producer().producerId()).collect(Collectors.toSet());
        Map<Long, String> transactionalIds = new HashMap<>();
        for (TransactionListing l : admin.listTransactions(new ListTransactionsOptions().filterProducerIds(producerIds)).all().get()) {
            transactionalIds.put(l.producerId(), l.transactionalId());
        }
        Map<String, TransactionDescription> coordinated = transactionalIds.isEmpty() ? Map.of()
                : admin.describeTransactions(transactionalIds.values()).all().get();
        List<Open> abortable = new ArrayList<>();
        List<Hanging> left = new ArrayList<>();
        for (Open o : open) {
            String id = transactionalIds.get(o.producer().producerId());
            TransactionDescription t = id == null ? null : coordinated.get(id);
            boolean tracked = t != null && t.producerId() == o.producer().producerId() && IN_PROGRESS.contains(t.state())
                    && t.topicPartitions().contains(o.partition());
            if (tracked) {
                continue;
            }
            if (t == null || decidedAborted(t, o)) {
                abortable.add(o);
            } else {
                left.add(hanging(o, id, t));
            }
        }
        // asked again after the coordinator: a transaction that its coordinator closed in between is closed now
        Set<String> stillOpen = openTransactions(admin, abortable.stream().map(Open::partition).distinct().toList()).stream()
                .map(Open::key).collect(Collectors.toSet());
        List<Hanging> aborted = new ArrayList<>();
        for (Open o : abortable) {
            if (!stillOpen.contains(o.key())) {
                continue;
            }
            ProducerState p = o.producer();
            String id = transactionalIds.get(p.producerId());
            Hanging h = hanging(o, id, id == null ? null : coordinated.get(id));
            try {
                admin.abortTransaction(new AbortTransactionSpec(o.partition(), p.producerId(), (short) p.producerEpoch(),
                        p.coordinatorEpoch().orElse(0))).all().get();
                aborted.add(h);
            } catch (ExecutionException e) {
                left.add(h);
            }
        }
        return new Repair(aborted, left);
    }

    /** The coordinator's record says this producer's transaction that is open on the partition ended in an abort. */
    private static boolean decidedAborted(TransactionDescription t, Open o) {
        boolean aborted = t.state() == TransactionState.COMPLETE_ABORT
                || t.state() == TransactionState.PREPARE_ABORT && !t.topicPartitions().contains(o.partition());
        return aborted && t.producerId() == o.producer().producerId() && t.producerEpoch() == o.producer().producerEpoch() + 1;
    }

    private static Hanging hanging(Open o, String transactionalId, TransactionDescription t) {
        ProducerState p = o.producer();
        return new Hanging(o.partition(), p.producerId(), p.producerEpoch(), o.startOffset(), transactionalId == null ? "?" : transactionalId,
                t == null ? "no record" : t.state() + " at epoch " + t.producerEpoch());
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
}
