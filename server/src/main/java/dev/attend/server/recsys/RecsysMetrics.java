package dev.attend.server.recsys;

import dev.attend.broker.EventStreaming;
import dev.attend.recsys.serving.BehaviorSequenceStore;
import dev.attend.streaming.OnlineTraining;
import dev.attend.streaming.SequenceStream;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The Prometheus meters of the recommendation endpoints: online training, the local sequence store, and with Kafka
 * the event stream (its state, dead letters, events sent back to their partition, and Kafka Streams' own metrics:
 * consumer lag per partition among them).
 */
final class RecsysMetrics {

    private RecsysMetrics() {
    }

    /**
     * Publishes online training's gauges ({@code attend_recsys_online_*}, with {@code training}) and
     * {@code attend_recsys_users} and {@code attend_recsys_behaviors} (held in the local sequence {@code store}).
     */
    static void bind(MeterRegistry registry, OnlineTraining training, BehaviorSequenceStore store, EventStreaming streaming) {
        if (streaming != null) {
            SequenceStream sequences = streaming.sequences();
            Gauge.builder("attend.events.stream.running", sequences, x -> x.state() == KafkaStreams.State.RUNNING ? 1 : 0)
                    .description("1 while the sequence topology runs (RUNNING), else 0 (rebalancing, starting, failed)").register(registry);
            FunctionCounter.builder("attend.events.dead.lettered", sequences, SequenceStream::deadLettered)
                    .description("Records this instance sent to the dead-letter topic (not events: the reason in their header)")
                    .register(registry);
            FunctionCounter.builder("attend.events.rerouted", sequences, SequenceStream::rerouted)
                    .description("Events found on another partition than their key's and sent back to it").register(registry);
            new KafkaStreamsMetrics(sequences.kafkaStreams()).bindTo(registry);
        }
        if (training != null) {
            Gauge.builder("attend.recsys.online.events", training, x -> x.stats().events())
                    .description("Events the served model learned from online").register(registry);
            Gauge.builder("attend.recsys.online.auc", training, x -> x.stats().prequentialAuc())
                    .description("Prequential AUC of online training over its recent scored events").register(registry);
            FunctionCounter.builder("attend.recsys.online.items.refused", training, OnlineTraining::itemsRefused)
                    .description("Events on new items not learned because the new-item limit (per window or in all) was reached")
                    .register(registry);
        }
        if (store == null) {
            return; // the topology's store is spread over instances; Kafka Streams has its own metrics
        }
        Gauge.builder("attend.recsys.users", store, BehaviorSequenceStore::users)
                .description("Users with stored behaviours").register(registry);
        Gauge.builder("attend.recsys.behaviors", store, BehaviorSequenceStore::events)
                .description("Behaviours held in the sequence store").register(registry);
    }
}
