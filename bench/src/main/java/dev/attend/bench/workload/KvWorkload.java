package dev.attend.bench.workload;

import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An index workload taken from (or shaped like) one attention head in LLM decoding: the keys an index
 * holds, the queries that may train it, and the queries it is measured on.
 *
 * <p>From a real head ({@link #fromKvDir}), following {@code ../shared/data/README.md}: the first
 * {@code N - decodeSteps} tokens are the prefill, their keys are {@link #keys} and their queries are
 * {@link #trainingQueries} (what an attention-aware index may learn from); the last {@code decodeSteps}
 * (1,024 by default) tokens are decode steps, their queries are {@link #testQueries} and their keys are
 * {@link #heldOutKeys}. The exact answer of a test query is taken over {@link #keys} only: the index is
 * measured on the prefill, not on the decode steps' own (causally visible) keys, which a serving system
 * appends as it goes.
 *
 * <p>{@link #inDistribution()} is the same workload with the held-out keys as queries: vectors from the
 * indexed distribution that are not in the index, the case ordinary ANN indexes are built for.
 *
 * @param name            where the workload came from, e.g. {@code minilm-shakespeare/L2H0} or {@code synthetic(...)}
 * @param keys            the indexed vectors (row i has id i)
 * @param trainingQueries prefill queries (may be empty)
 * @param testQueries     queries to measure with (decode queries, or held-out keys for the in-distribution variant)
 * @param heldOutKeys     keys from the indexed distribution that are not indexed (may be empty)
 * @param scale           softmax scale of the head: attention logits are {@code scale * q.k}
 */
public record KvWorkload(String name, VectorStore keys, VectorStore trainingQueries, float[][] testQueries,
                         float[][] heldOutKeys, float scale) {

    /** Decode steps (test queries) of a real head, as the data README prescribes. */
    public static final int DECODE_STEPS = 1024;

    /** Suffix of {@link #name} for the in-distribution variant. */
    public static final String IN_DISTRIBUTION_SUFFIX = " [held-out keys as queries]";

    public KvWorkload {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(trainingQueries, "trainingQueries");
        Objects.requireNonNull(testQueries, "testQueries");
        Objects.requireNonNull(heldOutKeys, "heldOutKeys");
        int d = keys.dim();
        if (trainingQueries.dim() != d) {
            throw new IllegalArgumentException("training queries have dimension " + trainingQueries.dim() + ", keys " + d);
        }
        checkRows("test query", testQueries, d);
        checkRows("held-out key", heldOutKeys, d);
        if (!(scale > 0) || !Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be positive and finite, got " + scale);
        }
    }

    private static void checkRows(String what, float[][] rows, int d) {
        for (int i = 0; i < rows.length; i++) {
            if (rows[i] == null || rows[i].length != d) {
                throw new IllegalArgumentException(what + " " + i + " has dimension "
                        + (rows[i] == null ? "null" : rows[i].length) + ", keys " + d);
            }
        }
    }

    /** Indexed keys. */
    public int size() {
        return keys.size();
    }

    public int dim() {
        return keys.dim();
    }

    /** Loads head {@code head} of a KV directory ({@code meta.json} + {@code {head}.{q,k,v}.npy}) with 1,024 decode steps. */
    public static KvWorkload fromKvDir(Path dir, String head) throws IOException {
        return fromKvDir(dir, head, DECODE_STEPS);
    }

    /** Loads head {@code head} of a KV directory with the last {@code decodeSteps} tokens as test queries. */
    public static KvWorkload fromKvDir(Path dir, String head, int decodeSteps) throws IOException {
        KvHead h = KvHead.load(dir, head, Precision.FLOAT32);
        Path file = dir.toAbsolutePath().normalize().getFileName();
        return fromHead((file == null ? "kv" : file.toString()) + "/" + head, h, decodeSteps);
    }

    /** Splits a loaded head: the first {@code tokens - decodeSteps} tokens are the prefill, the rest decode steps. */
    public static KvWorkload fromHead(String name, KvHead head, int decodeSteps) {
        int tokens = head.tokens();
        if (decodeSteps < 1 || decodeSteps >= tokens) {
            throw new IllegalArgumentException("decode steps must be in [1, " + tokens + "), got " + decodeSteps
                    + " (head " + head.name() + " has " + tokens + " tokens)");
        }
        int prefill = tokens - decodeSteps;
        return new KvWorkload(name, copyRows(head.keys(), 0, prefill), copyRows(head.queries(), 0, prefill),
                rows(head.queries(), prefill, tokens), rows(head.keys(), prefill, tokens), head.scale());
    }

    /** The same keys, with the held-out keys as test queries (the in-distribution check). */
    public KvWorkload inDistribution() {
        if (heldOutKeys.length == 0) {
            throw new IllegalStateException(name + " has no held-out keys");
        }
        String base = name.endsWith(IN_DISTRIBUTION_SUFFIX) ? name : name + IN_DISTRIBUTION_SUFFIX;
        return new KvWorkload(base, keys, trainingQueries, heldOutKeys, heldOutKeys, scale);
    }

    /** Whether the test queries are the held-out keys. */
    public boolean isInDistribution() {
        return name.endsWith(IN_DISTRIBUTION_SUFFIX);
    }

    /** Rows {@code [from, to)} of {@code store} as arrays. */
    static float[][] rows(VectorStore store, int from, int to) {
        float[][] out = new float[to - from][];
        for (int i = from; i < to; i++) {
            out[i - from] = store.row(i);
        }
        return out;
    }

    /** Rows {@code [from, to)} of {@code store} in a new float32 store. */
    static VectorStore copyRows(VectorStore store, int from, int to) {
        int d = store.dim();
        VectorStore out = new VectorStore(d, Precision.FLOAT32);
        int block = VectorStore.CHUNK_ROWS;
        float[] buf = new float[block * d];
        float[] row = new float[d];
        for (int start = from; start < to; start += block) {
            int count = Math.min(block, to - start);
            for (int r = 0; r < count; r++) {
                store.readRow(start + r, row);
                System.arraycopy(row, 0, buf, r * d, d);
            }
            out.appendRows(buf, 0, count);
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }

    @Override
    public String toString() {
        return "KvWorkload[" + name + ": " + keys.size() + " keys x " + dim() + ", " + trainingQueries.size()
                + " training queries, " + testQueries.length + " test queries, " + heldOutKeys.length
                + " held-out keys, scale " + scale + "]";
    }
}
