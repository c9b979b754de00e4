package dev.attend.broker.internals;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.message.WriteTxnMarkersRequestData;
import org.apache.kafka.common.message.WriteTxnMarkersResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.requests.WriteTxnMarkersResponse;

/**
 * Finds hanging transactions and ends them the way their coordinator decided: a partition holds an open transaction
 * that its coordinator no longer tracks, so no commit or abort marker will ever close it, and read_committed
 * readers (Kafka Streams restoring a changelog, a consumer group's stable offsets) stop at it for good.
 *
 * <p>Why the engine needs this: when the process holding the embedded broker is killed in the middle of a
 * transaction and started again, the broker replays its metadata and acts as the transaction coordinator at the
 * leader epoch it had before the crash, for a moment, while its controller fences the dead incarnation and the
 * partitions have no leader: a transaction that it completes then (one that was preparing its commit or abort at
 * the kill, or one it rolls back on timeout) finds no leader for the partitions, its markers are skipped as if the
 * partitions had been deleted, and the transaction is recorded complete. The partitions keep it open. This is
 * Kafka's {@code kafka-transactions.sh find-hanging} followed by writing the marker its coordinator meant, limited to
 * what the coordinator's record proves. That needs transaction version 2 (the embedded broker's; checked on every
 * look, nothing is ended under an older version): every end of a transaction, and every new incarnation of its
 * producer, bumps the producer epoch, so a record at the epoch after the open transaction's is that transaction's
 * end, and the broker's partition verification keeps writes out of a transaction that did not add the partition.
 * <ul>
 *   <li>in progress (ongoing or preparing) and listing the partition: not hanging, the coordinator will finish it;
 *   <li>aborted ({@code CompleteAbort}, or {@code PrepareAbort} without the partition) at the epoch that follows
 *       the partition's: aborted here, as {@code kafka-transactions.sh abort} would;
 *   <li>committed ({@code CompleteCommit}, or {@code PrepareCommit} without the partition) at the epoch that
 *       follows the partition's: committed here, with the marker the coordinator would have written (the Admin API
 *       writes only abort markers, so the request goes to the partition's leader directly);
 *   <li>anything else: reported, not touched. A record that moved on (say {@code Empty} after a new producer
 *       incarnation) no longer says how the transaction ended, unless an earlier look saw it; no record at all may
 *       follow a commit that moved the transactional id to a new producer id (epoch exhaustion) or an expired id.
 *       {@code kafka-transactions.sh} can finish those by hand.
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

    /**
     * What a look found: the hanging transactions it aborted, those it committed, and those it left (their
     * coordinator's record does not say how they ended, or the marker could not be written).
     */
    public record Repair(List<Hanging> aborted, List<Hanging> committed, List<Hanging> leftOpen) {

        /** How many it ended. */
        public int ended() {
            return aborted.size() + committed.size();
        }
    }

    private record Open(TopicPartition partition, ProducerState producer) {
        long startOffset() {
            return producer.currentTransactionStartOffset().orElseThrow();
        }

        String key() {
            return partition + "/" + transaction() + "/" + producer.currentTransactionStartOffset();
        }

        String transaction() {
            return transactionKey(producer.producerId(), producer.producerEpoch());
        }
    }

    private HangingTransactions() {
    }

    /** The key of a producer's transaction in {@link #repair}'s memory of how transactions end. */
    public static String transactionKey(long producerId, int producerEpoch) {
        return producerId + "/" + producerEpoch;
    }

    /**
     * Looks for hanging transactions on every partition of {@code topics} and ends those whose coordinator decided
     * how they end. {@code ends} remembers, from one look to the next, how the coordinator said an open transaction
     * ends ({@link #transactionKey}: true for a commit), since its record moves on when the producer starts again.
     * A failed marker leaves that one in {@link Repair#leftOpen} and goes on with the others.
     */
    public static Repair repair(Admin admin, Collection<String> topics, Map<String, Boolean> ends) throws InterruptedException,
            ExecutionException {
        List<TopicPartition> partitions = new ArrayList<>();
        Map<TopicPartition, Node> leaders = new HashMap<>();
        for (TopicDescription d : admin.describeTopics(topics).allTopicNames().get().values()) {
            d.partitions().forEach(p -> {
                TopicPartition tp = new TopicPartition(d.name(), p.partition());
                partitions.add(tp);
                if (p.leader() != null) {
                    leaders.put(tp, p.leader());
                }
            });
        }
        List<Open> open = openTransactions(admin, partitions);
        ends.keySet().retainAll(open.stream().map(Open::transaction).collect(Collectors.toSet())); // closed ones are forgotten
        if (open.isEmpty()) {
            return new Repair(List.of(), List.of(), List.of());
        }
        short transactionVersion = transactionVersion(admin);
        Set<Long> producerIds = open.stream().map(o -> o.producer().producerId()).collect(Collectors.toSet());
        Map<Long, String> transactionalIds = new HashMap<>();
        for (TransactionListing l : admin.listTransactions(new ListTransactionsOptions().filterProducerIds(producerIds)).all().get()) {
            transactionalIds.put(l.producerId(), l.transactionalId());
        }
        Map<String, TransactionDescription> coordinated = transactionalIds.isEmpty() ? Map.of()
                : admin.describeTransactions(transactionalIds.values()).all().get();
        Map<Open, Boolean> decided = new LinkedHashMap<>(); // the open transactions whose end is recorded: true = commit
        List<Hanging> left = new ArrayList<>();
        for (Open o : open) {
            String id = transactionalIds.get(o.producer().producerId());
            TransactionDescription t = id == null ? null : coordinated.get(id);
            Boolean end = transactionVersion >= 2 ? endOf(t, o) : null;
            if (end != null) {
                ends.put(o.transaction(), end); // kept: the record moves on (Empty at a later epoch) when the producer comes back
            }
            boolean tracked = t != null && t.producerId() == o.producer().producerId() && IN_PROGRESS.contains(t.state())
                    && t.topicPartitions().contains(o.partition());
            if (tracked) {
                continue;
            }
            Boolean known = ends.get(o.transaction());
            if (known != null) {
                decided.put(o, known);
            } else {
                left.add(hanging(o, id, t, null));
            }
        }
        // asked again after the coordinator: a transaction that its coordinator closed in between is closed now
        Set<String> stillOpen = openTransactions(admin, decided.keySet().stream().map(Open::partition).distinct().toList()).stream()
                .map(Open::key).collect(Collectors.toSet());
        List<Hanging> aborted = new ArrayList<>();
        List<Hanging> committed = new ArrayList<>();
        for (Map.Entry<Open, Boolean> e : decided.entrySet()) {
            Open o = e.getKey();
            if (!stillOpen.contains(o.key())) {
                continue;
            }
            ProducerState p = o.producer();
            String id = transactionalIds.get(p.producerId());
            Hanging h = hanging(o, id, id == null ? null : coordinated.get(id), e.getValue());
            try {
                if (e.getValue()) {
                    Node leader = leaders.get(o.partition());
                    if (leader == null) {
                        throw new IOException(o.partition() + " has no leader now");
                    }
                    writeCommitMarker(leader, o);
                    committed.add(h);
                } else {
                    admin.abortTransaction(new AbortTransactionSpec(o.partition(), p.producerId(), (short) p.producerEpoch(),
                            p.coordinatorEpoch().orElse(0))).all().get();
                    aborted.add(h);
                }
            } catch (ExecutionException | IOException | RuntimeException failed) {
                left.add(h); // the next look tries again
            }
        }
        return new Repair(aborted, committed, left);
    }

    /**
     * How the coordinator's record says this producer's transaction that is open on the partition ends: true for a
     * commit, false for an abort (prepared or complete, at the epoch that follows the partition's), null when the
     * record does not say.
     */
    private static Boolean endOf(TransactionDescription t, Open o) {
        if (t == null || t.producerId() != o.producer().producerId() || t.producerEpoch() != o.producer().producerEpoch() + 1) {
            return null;
        }
        return switch (t.state()) {
            case PREPARE_COMMIT, COMPLETE_COMMIT -> true;
            case PREPARE_ABORT, COMPLETE_ABORT -> false;
            default -> null;
        };
    }

    /**
     * Writes the commit marker of the transaction open on {@code o}'s partition, as its coordinator would have: a
     * WriteTxnMarkers request to the partition's leader (what {@code Admin.abortTransaction} sends, with the result
     * commit), over a plain socket. Throws when the broker refuses it.
     */
    private static void writeCommitMarker(Node leader, Open o) throws IOException {
        ProducerState p = o.producer();
        WriteTxnMarkersRequestData.WritableTxnMarker marker = new WriteTxnMarkersRequestData.WritableTxnMarker()
                .setProducerId(p.producerId())
                .setProducerEpoch((short) p.producerEpoch())
                .setCoordinatorEpoch(p.coordinatorEpoch().orElse(0))
                .setTransactionResult(true);
        marker.topics().add(new WriteTxnMarkersRequestData.WritableTxnMarkerTopic().setName(o.partition().topic())
                .setPartitionIndexes(List.of(o.partition().partition())));
        WriteTxnMarkersRequestData data = new WriteTxnMarkersRequestData();
        data.markers().add(marker);
        short version = ApiKeys.WRITE_TXN_MARKERS.latestVersion(false);
        RequestHeader header = new RequestHeader(ApiKeys.WRITE_TXN_MARKERS, version, "attend-hanging-transactions", 1);
        ByteBuffer request = new WriteTxnMarkersRequest.Builder(data).build(version).serializeWithHeader(header);
        byte[] bytes = new byte[request.remaining()];
        request.duplicate().get(bytes);
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(leader.host(), leader.port()), 5_000);
            socket.setSoTimeout(10_000);
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
            out.writeInt(bytes.length); // Kafka's framing: the size, then header and body
            out.write(bytes);
            out.flush();
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
            int size = in.readInt();
            if (size <= 0 || size > 1 << 20) {
                throw new IOException("a WriteTxnMarkers response of " + size + " bytes from " + leader);
            }
            byte[] body = new byte[size];
            in.readFully(body);
            WriteTxnMarkersResponse response = (WriteTxnMarkersResponse) AbstractResponse.parseResponse(ByteBuffer.wrap(body), header);
            int results = 0;
            for (WriteTxnMarkersResponseData.WritableTxnMarkerResult m : response.data().markers()) {
                for (WriteTxnMarkersResponseData.WritableTxnMarkerTopicResult t : m.topics()) {
                    for (WriteTxnMarkersResponseData.WritableTxnMarkerPartitionResult r : t.partitions()) {
                        Errors error = Errors.forCode(r.errorCode());
                        if (error != Errors.NONE) {
                            throw new IOException("the commit marker for " + o.partition() + " was refused: " + error + " (" + error.message() + ")");
                        }
                        results++;
                    }
                }
            }
            if (results != 1) {
                throw new IOException("the commit marker for " + o.partition() + " got " + results + " partition results, not 1");
            }
        }
    }

    private static Hanging hanging(Open o, String transactionalId, TransactionDescription t, Boolean decided) {
        ProducerState p = o.producer();
        String record = t == null ? "no record" : t.state() + " at epoch " + t.producerEpoch();
        if (decided != null && endOf(t, o) == null) {
            record += "; an earlier look saw it end in " + (decided ? "a commit" : "an abort");
        }
        return new Hanging(o.partition(), p.producerId(), p.producerEpoch(), o.startOffset(), transactionalId == null ? "?" : transactionalId,
                record);
    }

    /** The cluster's finalized transaction version (0 when it has none). */
    private static short transactionVersion(Admin admin) throws InterruptedException, ExecutionException {
        var range = admin.describeFeatures().featureMetadata().get().finalizedFeatures().get("transaction.version");
        return range == null ? 0 : range.maxVersionLevel();
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
