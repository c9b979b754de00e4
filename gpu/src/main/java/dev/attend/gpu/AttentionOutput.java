package dev.attend.gpu;

/**
 * Softmax attention over a set of rows: {@code output = sum_i softmax(scale q.k_i) v_i} and
 * {@code logSumExp = log sum_i exp(scale q.k_i)}. The log-sum-exp lets partial results over disjoint
 * row sets merge exactly. An empty row set gives a zero output and a log-sum-exp of -infinity.
 */
public record AttentionOutput(float[] output, double logSumExp, Device device) {
}
