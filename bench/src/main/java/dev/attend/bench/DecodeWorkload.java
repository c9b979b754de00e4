package dev.attend.bench;

import dev.attend.bench.workload.KvWorkload;
import dev.attend.bench.workload.OodParameters;
import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
import java.io.PrintStream;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * One head {@code bench attention} decodes: stores of every token, the prefill queries, and one decode query per step.
 * Synthetic heads come from {@link OodWorkloadGenerator} (keys, training and decode queries fitted to a real head);
 * their values are drawn here: a mean vector shared by all tokens plus independent Gaussian noise per token, both unit
 * variance per dimension (values carry no information the keys do not).
 */
record DecodeWorkload(String label, VectorStore keys, VectorStore values, float[][] prefillQueries, float[][] decodeQueries,
                      float scale) {

    int n() {
        return keys.size();
    }

    int prefill() {
        return n() - decodeQueries.length;
    }

    /** The head of a KV directory: its last {@code steps} tokens are decoded. */
    static DecodeWorkload fromHead(String label, KvHead head, int steps) {
        int n = head.keys().size();
        if (steps >= n) {
            throw new IllegalArgumentException(label + ": " + n + " tokens, cannot decode " + steps + " steps");
        }
        return new DecodeWorkload(label, head.keys(), head.values(), rows(head.queries(), 0, n - steps),
                rows(head.queries(), n - steps, n), head.scale());
    }

    /** A generated OOD head of {@code n} tokens, with the parameters of {@code head}: its last {@code --steps} are decoded. */
    static DecodeWorkload synthetic(int n, String head, AttentionOptions options, PrintStream err) {
        OodParameters p = OodWorkloadGenerator.defaults(head);
        int train = options.train() >= 0 ? options.train() : Math.min(n, IndexBench.SYNTHETIC_TRAIN_CAP);
        int steps = options.steps();
        if (steps >= n) {
            throw new IllegalArgumentException("--synthetic " + n + " leaves no prefill for " + steps + " steps");
        }
        long t0 = System.nanoTime();
        KvWorkload w = OodWorkloadGenerator.generate(p, n, train, steps, options.seed());
        VectorStore values = syntheticValues(n, p.dim(), options.seed());
        err.printf(Locale.ROOT, "[attention] generated %s with values in %.1f s%n", w.name(), (System.nanoTime() - t0) / 1e9);
        return new DecodeWorkload(String.format(Locale.ROOT, "synthetic %s n=%d", p.source(), n), w.keys(), values,
                rows(w.trainingQueries(), 0, w.trainingQueries().size()), w.testQueries(), w.scale());
    }

    /** Values: one mean vector for all tokens plus per-token noise, both standard normal per dimension. */
    static VectorStore syntheticValues(int n, int dim, long seed) {
        return syntheticValues(n, dim, seed, Precision.FLOAT32);
    }

    /** The same values in a store of {@code precision}. */
    static VectorStore syntheticValues(int n, int dim, long seed, Precision precision) {
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x7A1E5L);
        float[] mean = new float[dim];
        for (int c = 0; c < dim; c++) {
            mean[c] = (float) rnd.nextGaussian();
        }
        VectorStore store = new VectorStore(dim, precision);
        float[] row = new float[dim];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < dim; c++) {
                row[c] = mean[c] + (float) rnd.nextGaussian();
            }
            store.append(row);
        }
        return store;
    }

    /** Rows [from, to) of {@code store}. */
    static float[][] rows(VectorStore store, int from, int to) {
        float[][] out = new float[to - from][];
        for (int i = from; i < to; i++) {
            out[i - from] = store.row(i);
        }
        return out;
    }
}
