package dev.attend.lm;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.HeadPolicies;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.KvSessionThreads;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * Decode attention served by an Attend {@link KvSession} in this process: one session for the whole model (layers x
 * KV heads, the model's query heads per KV head, head dimension and scale), prefilled from {@link ByteLm#prefill}'s
 * keys, values and queries (each query attributed to its query head, token order), then for every decode position
 * and layer: the position's keys and values appended to each KV head and the attention of every query head asked.
 */
public final class SessionAttention implements LayerAttention {

    private final KvSession session;
    private final Scorer scorer;
    private final KvSessionThreads threads;
    private final int budget;
    private final int group;
    private long keysScanned;
    private long attends;
    private long flatAnswers;

    /**
     * A session for {@code model} with every head under {@code policy} (a {@link HeadPolicies} name: full,
     * streaming, retrieval, retrieval+tail, auto, ...), {@code topK} keys retrieved, {@code budget} distance
     * computations per index search (0: {@link KvSessionConfig#defaultBudget} of the head's length), the given static
     * set; index builds run on {@code buildThreads} threads.
     */
    public SessionAttention(ByteLmConfig model, String policy, int topK, int budget, int sinks, int window, int buildThreads) {
        KvSessionConfig config = KvSessionConfig.defaults(model.layers(), model.kvHeads(), model.group(), model.headDim())
                .withScale(model.attentionScale()).withStaticSet(sinks, window).withTopK(topK)
                .withPolicies(new HeadPolicies(policy, Map.of()));
        this.scorer = Scorers.create("simd");
        this.threads = new KvSessionThreads("lm-index", buildThreads);
        this.session = new KvSession("lm-" + policy.replaceAll("[^A-Za-z0-9._-]", "_"), config, scorer, threads.builds(), threads.indexer());
        this.budget = budget;
        this.group = model.group();
    }

    public KvSession session() {
        return session;
    }

    /** Hands the session every layer's keys, values and queries of {@code prefill} (positions 0 onwards). */
    public void prefill(ByteLm.Prefill prefill) {
        KvSessionConfig c = session.config();
        for (int l = 0; l < c.layers(); l++) {
            ByteLm.LayerKv kv = prefill.layers().get(l);
            for (int g = 0; g < c.kvHeads(); g++) {
                session.prefill(l, g, 0, kv.keyRows(g), kv.valueRows(g), kv.queryRowsOf(g), kv.queryHeadsOf(g), false);
            }
        }
    }

    /**
     * Waits until every head is ready (its index built or its policy opened); an {@link IllegalStateException} names a
     * head whose build failed, a {@link TimeoutException} says which heads are still building.
     */
    public void awaitReady(long timeoutMillis) throws InterruptedException, TimeoutException {
        KvSessionConfig c = session.config();
        HeadReadiness.await(() -> {
            List<HeadReadiness.Head> heads = new ArrayList<>();
            for (int l = 0; l < c.layers(); l++) {
                for (int g = 0; g < c.kvHeads(); g++) {
                    heads.add(new HeadReadiness.Head(l + "/" + g, session.indexState(l, g).state(), session.length(l, g)));
                }
            }
            return heads;
        }, c.sinkTokens(), c.windowTokens(), timeoutMillis);
    }

    /** One call per layer ({@link KvSession#decodeLayer}): every KV head's append, then every query head's answer, in parallel. */
    @Override
    public float[][] attend(int layer, int position, float[][] keys, float[][] values, float[][] queries) {
        AttendResult[] results = session.decodeLayer(layer, position, keys, values, queries, budget > 0 ? budget : KvSession.DEFAULT_BUDGET);
        float[][] out = new float[results.length][];
        long scanned = 0;
        long flat = 0;
        for (int h = 0; h < results.length; h++) {
            out[h] = results[h].output();
            scanned += results[h].stats().keysScanned();
            flat += results[h].stats().mode().equals("flat") ? 1 : 0;
        }
        synchronized (this) {
            keysScanned += scanned;
            attends += results.length;
            flatAnswers += flat;
        }
        return out;
    }

    /** Mean keys scanned (exact products and index distance computations) per attend of one query head. */
    public synchronized double meanKeysScanned() {
        return attends == 0 ? 0 : (double) keysScanned / attends;
    }

    /** Attends answered exactly over every key (a head not ready yet). */
    public synchronized long flatAnswers() {
        return flatAnswers;
    }

    /** Bytes the session holds ({@link KvSession#memoryBytes}). */
    public long memoryBytes() {
        return session.memoryBytes();
    }

    /** What each KV head follows ("layer/kvHead" -> policy). */
    public Map<String, String> policies() {
        Map<String, String> m = new LinkedHashMap<>();
        KvSessionConfig c = session.config();
        for (int l = 0; l < c.layers(); l++) {
            for (int g = 0; g < c.kvHeads(); g++) {
                KvSession.PolicyState p = session.policyState(l, g);
                m.put(l + "/" + g, p.policy() == null ? p.configured() : p.policy());
            }
        }
        return m;
    }

    @Override
    public void close() {
        session.close();
        threads.close();
        scorer.close();
    }
}
