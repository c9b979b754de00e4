package dev.attend.retrieval.policy;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorStore;

/**
 * Exact merge of attention over disjoint key sets: with {@code lse = log sum exp(logits)} of each
 * part, the whole is {@code o = sum_p exp(lse_p - lse) o_p} with {@code lse = log sum_p exp(lse_p)}.
 * Computed from the largest part down, so no exponential overflows.
 */
public final class LogSumExpMerge {

    private final float[] output;
    private double max = Double.NEGATIVE_INFINITY;
    private double sum;
    private final double[] acc;

    public LogSumExpMerge(int dim) {
        this.output = new float[dim];
        this.acc = new double[dim];
    }

    /** Adds a part: its normalised output and the log-sum-exp of its logits (-infinity for an empty part). */
    public void add(float[] partOutput, double partLogSumExp) {
        if (partLogSumExp == Double.NEGATIVE_INFINITY) {
            return;
        }
        if (partLogSumExp > max) {
            // Rescale what is accumulated to the new maximum.
            double shrink = max == Double.NEGATIVE_INFINITY ? 0 : Math.exp(max - partLogSumExp);
            for (int i = 0; i < acc.length; i++) {
                acc[i] *= shrink;
            }
            sum *= shrink;
            max = partLogSumExp;
        }
        double w = Math.exp(partLogSumExp - max);
        for (int i = 0; i < acc.length; i++) {
            acc[i] += w * partOutput[i];
        }
        sum += w;
    }

    /** Adds exact attention of {@code query} over the rows {@code subset} of {@code keys} and {@code values} as a part. */
    public void addExact(Scorer scorer, float[] query, VectorStore keys, VectorStore values, int[] subset, float scale) {
        AttentionOutput part = scorer.attend(query, keys, values, subset, scale);
        add(part.output(), part.logSumExp());
    }

    /** The log-sum-exp over every part added. */
    public double logSumExp() {
        return sum == 0 ? Double.NEGATIVE_INFINITY : max + Math.log(sum);
    }

    /** The merged output (zeros when nothing was added). */
    public float[] output() {
        for (int i = 0; i < acc.length; i++) {
            output[i] = sum == 0 ? 0 : (float) (acc[i] / sum);
        }
        return output.clone();
    }
}
