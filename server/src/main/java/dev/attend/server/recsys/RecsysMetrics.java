package dev.attend.server.recsys;

import dev.attend.recsys.serving.BehaviorSequenceStore;
import dev.attend.streaming.OnlineTraining;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/** The Prometheus gauges of the recommendation endpoints: online training and the local sequence store. */
final class RecsysMetrics {

    private RecsysMetrics() {
    }

    /**
     * Publishes online training's gauges ({@code attend_recsys_online_*}, with {@code training}) and
     * {@code attend_recsys_users} and {@code attend_recsys_behaviors} (held in the local sequence {@code store}).
     */
    static void bind(MeterRegistry registry, OnlineTraining training, BehaviorSequenceStore store) {
        if (training != null) {
            Gauge.builder("attend.recsys.online.events", training, x -> x.stats().events())
                    .description("Events the served model learned from online").register(registry);
            Gauge.builder("attend.recsys.online.auc", training, x -> x.stats().prequentialAuc())
                    .description("Prequential AUC of online training over its recent scored events").register(registry);
            // A Gauge of a count that only grows: Prometheus's _total suffix is kept for counters.
            Gauge.builder("attend.recsys.online.items.refused", training, OnlineTraining::itemsRefused)
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
