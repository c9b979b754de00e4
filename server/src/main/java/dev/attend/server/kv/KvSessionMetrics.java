package dev.attend.server.kv;

import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessions;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** The Prometheus gauges of the KV sessions a {@link KvSessionRoutes} serves: counts and bytes, in all and per head policy. */
final class KvSessionMetrics {

    private KvSessionMetrics() {
    }

    /**
     * Publishes {@code attend_kv_sessions} (sessions held), {@code attend_kv_session_bytes} (keys, values and indexes of
     * all of them), and per head policy ({@link #POLICY_FAMILIES}, tag {@code policy}) the KV heads following it
     * ({@code attend_kv_policy_heads}) and their bytes ({@code attend_kv_policy_bytes}, tag {@code kind} kv or index)
     * on {@code registry}, the KV heads by the state of their index ({@code attend_kv_index_heads}, tag {@code state}); {@code expired} counts the sessions the time-to-live deleted.
     */
    static void bind(MeterRegistry registry, KvSessions sessions, AtomicLong expired) {
        Gauge.builder("attend.kv.sessions", sessions, KvSessions::size)
                .description("KV sessions held").register(registry);
        Gauge.builder("attend.kv.session.bytes", sessions, KvSessionMetrics::bytes)
                .description("Bytes held by the KV sessions: keys, values, indexes").baseUnit("bytes").register(registry);
        FunctionCounter.builder("attend.kv.sessions.expired", expired,
                AtomicLong::get).description("KV sessions deleted after their time-to-live")
                .register(registry);
        for (String state : INDEX_STATES) {
            Gauge.builder("attend.kv.index.heads", sessions, st -> indexHeads(st, state))
                    .tag("state", state).description("KV heads by the state of their index: none, building, ready or failed").register(registry);
        }
        for (String family : POLICY_FAMILIES) {
            Gauge.builder("attend.kv.policy.heads", sessions, st -> policyTotals(st, family)[0])
                    .tag("policy", family).description("KV heads following a policy (undecided: auto, before the prefill ends)")
                    .register(registry);
            for (String kind : List.of("kv", "index")) {
                int at = kind.equals("kv") ? 1 : 2;
                Gauge.builder("attend.kv.policy.bytes", sessions, st -> policyTotals(st, family)[at])
                        .tag("policy", family).tag("kind", kind).baseUnit("bytes")
                        .description("Bytes of keys and values (kv) or of indexes, blocks and clusters (index) of the KV heads following a policy")
                        .register(registry);
            }
        }
    }

    /** The index states the metrics tell apart ({@code failed: <reason>} counts as failed). */
    static final List<String> INDEX_STATES = List.of("none", "building", "ready", "failed");

    /** KV heads of every session whose index is in {@code state}. */
    private static double indexHeads(KvSessions store, String state) {
        double[] n = new double[1];
        eachHead(store, (s, l, h) -> {
            String at = s.indexState(l, h).state();
            if (at.equals(state) || (state.equals("failed") && at.startsWith("failed"))) {
                n[0]++;
            }
        });
        return n[0];
    }

    /** What a gauge reads of one KV head of a session. */
    private interface HeadVisitor {
        void head(KvSession session, int layer, int kvHead);
    }

    /** Every KV head of every session held (a session deleted meanwhile is skipped). */
    private static void eachHead(KvSessions store, HeadVisitor visitor) {
        for (String id : store.ids()) {
            KvSession s = store.get(id);
            if (s == null) {
                continue;
            }
            for (int l = 0; l < s.config().layers(); l++) {
                for (int h = 0; h < s.config().kvHeads(); h++) {
                    visitor.head(s, l, h);
                }
            }
        }
    }

    /** The policies the metrics tell apart: a policy's name without its parameters. */
    static final List<String> POLICY_FAMILIES = List.of("full", "streaming", "retrieval", "recycled", "recycled+tail", "block",
            "retrieval+tail", "undecided");

    /** {heads, KV bytes, index bytes} of the heads of every session following {@code family}. */
    private static double[] policyTotals(KvSessions store, String family) {
        double[] totals = new double[3];
        eachHead(store, (s, l, h) -> {
            KvSession.PolicyState p = s.policyState(l, h);
            String name = p.policy() == null ? "undecided" : p.policy().split(":")[0];
            if (name.equals(family)) {
                totals[0]++;
                totals[1] += p.kvBytes();
                totals[2] += p.indexBytes();
            }
        });
        return totals;
    }

    private static double bytes(KvSessions store) {
        long total = 0;
        for (String id : store.ids()) {
            KvSession s = store.get(id);
            total += s == null ? 0 : s.memoryBytes();
        }
        return total;
    }
}
