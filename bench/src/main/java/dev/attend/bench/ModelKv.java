package dev.attend.bench;

import java.util.List;

/**
 * The KV session {@code bench model} drives ({@link ModelSession}): a {@link dev.attend.retrieval.KvSession} in process
 * ({@link InProcessModelKv}) or one of an {@code attend serve} over HTTP ({@link HttpModelKv}). The same prefill calls,
 * layer decodes, index states, accuracy checks and memory, whichever carries them.
 */
interface ModelKv extends AutoCloseable {

    /**
     * A layer's decode step: per query head (in order) its output and the keys it scanned; answers that were flat (a
     * head not ready; -1 where the transport does not say); the server's own time for it (-1 in process).
     */
    record Answer(float[][] outputs, long[] keysScanned, int flat, long serverNanos) {
    }

    /**
     * One answer against exact attention: its mode, the share of the true top-k keys it used, its output's relative
     * error, the attention mass of the keys it used, and the keys it scanned.
     */
    record Accuracy(String mode, double keyRecall, double relativeError, double massKept, long keysScanned) {
    }

    /**
     * What the session holds: its own account ({@code memoryBytes}), its KV heads' keys and values and indexes, and the
     * same keys and values in float16 (the yardstick).
     */
    record Memory(long sessionBytes, long kvBytes, long indexBytes, long float16KvBytes) {
    }

    String id();

    /** How the calls reach the session: {@code in-process} or {@code http}. */
    String transport();

    /**
     * Tokens {@code [from, from + keys.length)} of a KV head with prefill queries, {@code queryHeads[i]} the query head
     * of {@code queries[i]}; {@code more} while further chunks of the head follow.
     */
    void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries, int[] queryHeads, boolean more);

    /**
     * Whether prefill calls for different KV heads may run at once (an engine hands a layer's heads over together): in
     * process yes; over one kept-alive HTTP connection, one call at a time.
     */
    boolean concurrentPrefill();

    /** Every KV head's index state ({@code none}, {@code building}, {@code ready}, {@code failed: ...}), layer by layer. */
    List<String> indexStates();

    /** One decode step of a layer at the default budget: every KV head's key and value, every query head's query. */
    Answer decodeLayer(int layer, int position, float[][] keys, float[][] values, float[][] queries);

    /** Query head {@code queryHead}'s answer to {@code query} at the default budget against exact attention. */
    Accuracy checkAccuracy(int layer, int queryHead, float[] query);

    Memory memory();

    @Override
    void close();
}
