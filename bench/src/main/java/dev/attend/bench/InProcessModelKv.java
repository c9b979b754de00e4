package dev.attend.bench;

import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import java.util.ArrayList;
import java.util.List;

/** {@code bench model}'s session in process: a {@link KvSession} called directly. */
final class InProcessModelKv implements ModelKv {

    private final KvSession session;

    InProcessModelKv(KvSession session) {
        this.session = session;
    }

    @Override
    public boolean concurrentPrefill() {
        return true;
    }

    @Override
    public String id() {
        return session.id();
    }

    @Override
    public String transport() {
        return "in-process";
    }

    @Override
    public void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries, int[] queryHeads,
                        boolean more) {
        session.prefill(layer, kvHead, from, keys, values, queries, queryHeads, more);
    }

    @Override
    public List<String> indexStates() {
        KvSessionConfig c = session.config();
        List<String> states = new ArrayList<>(c.layers() * c.kvHeads());
        for (int l = 0; l < c.layers(); l++) {
            for (int h = 0; h < c.kvHeads(); h++) {
                states.add(session.indexState(l, h).state());
            }
        }
        return states;
    }

    @Override
    public Answer decodeLayer(int layer, int position, float[][] keys, float[][] values, float[][] queries) {
        AttendResult[] results = session.decodeLayer(layer, position, keys, values, queries, KvSession.DEFAULT_BUDGET);
        float[][] outputs = new float[results.length][];
        long[] scanned = new long[results.length];
        int flat = 0;
        for (int q = 0; q < results.length; q++) {
            outputs[q] = results[q].output();
            scanned[q] = results[q].stats().keysScanned();
            flat += results[q].stats().mode().equals("flat") ? 1 : 0;
        }
        return new Answer(outputs, scanned, flat, -1);
    }

    @Override
    public Accuracy checkAccuracy(int layer, int queryHead, float[] query) {
        KvSessionConfig c = session.config();
        int budget = KvSessionConfig.defaultBudget(session.length(layer, queryHead / c.queryHeadsPerKvHead()), c.topK());
        KvSession.AccuracyCheck a = session.checkAccuracy(layer, queryHead, query, budget);
        return new Accuracy(a.answer().mode(), a.keyRecall(), a.relativeError(), a.massKept(), a.answer().keysScanned());
    }

    @Override
    public Memory memory() {
        KvSessionConfig c = session.config();
        long kv = 0;
        long index = 0;
        long float16 = 0;
        for (int l = 0; l < c.layers(); l++) {
            for (int h = 0; h < c.kvHeads(); h++) {
                KvSession.PolicyState p = session.policyState(l, h);
                kv += p.kvBytes();
                index += p.indexBytes();
                float16 += 2L * session.length(l, h) * c.headDim() * 2;
            }
        }
        return new Memory(session.memoryBytes(), kv, index, float16);
    }

    @Override
    public void close() {
        session.close();
    }
}
