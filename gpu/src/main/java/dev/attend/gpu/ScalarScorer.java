package dev.attend.gpu;

import java.util.ArrayList;
import java.util.List;

/**
 * The plain reference: one thread, scalar loops, double accumulation. Slow on purpose; the tests
 * hold every other backend to its answers.
 */
public final class ScalarScorer implements Scorer {

    private static final Device DEVICE = new Device("scalar", Device.Kind.CPU, "plain Java, 1 thread, double accumulation");

    @Override
    public Device device() {
        return DEVICE;
    }

    @Override
    public ScoreMatrix scores(float[][] queries, VectorStore keys, int from, int to) {
        VectorChecks.checkQueries(queries, keys.dim());
        VectorChecks.checkRange(from, to, keys.size());
        int cols = to - from;
        float[] out = new float[Math.multiplyExact(queries.length, cols)];
        float[] row = new float[keys.dim()];
        for (int j = from; j < to; j++) {
            keys.readRow(j, row);
            for (int i = 0; i < queries.length; i++) {
                out[i * cols + (j - from)] = (float) dot(queries[i], row);
            }
        }
        return new ScoreMatrix(out, queries.length, cols, DEVICE);
    }

    @Override
    public TopKResult topK(float[][] queries, VectorStore keys, int k) {
        VectorChecks.checkQueries(queries, keys.dim());
        VectorChecks.checkK(k);
        int n = keys.size();
        float[] row = new float[keys.dim()];
        List<TopKCollector> collectors = new ArrayList<>();
        for (int i = 0; i < queries.length; i++) {
            collectors.add(new TopKCollector(Math.min(k, n)));
        }
        for (int j = 0; j < n; j++) {
            keys.readRow(j, row);
            for (int i = 0; i < queries.length; i++) {
                collectors.get(i).offer((float) dot(queries[i], row), j);
            }
        }
        return new TopKResult(collectors.stream().map(TopKCollector::drain).toList(), DEVICE);
    }

    @Override
    public AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale) {
        AttentionInputs.check(query, keys, values, subset, scale);
        int count = subset == null ? keys.size() : subset.length;
        double[] logits = new double[count];
        float[] row = new float[keys.dim()];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            keys.readRow(subset == null ? i : subset[i], row);
            logits[i] = scale * dot(query, row);
            max = Math.max(max, logits[i]);
        }
        double[] acc = new double[values.dim()];
        float[] value = new float[values.dim()];
        double sum = 0;
        for (int i = 0; i < count; i++) {
            double w = Math.exp(logits[i] - max);
            sum += w;
            values.readRow(subset == null ? i : subset[i], value);
            for (int c = 0; c < acc.length; c++) {
                acc[c] += w * value[c];
            }
        }
        float[] out = new float[values.dim()];
        if (count == 0) {
            return new AttentionOutput(out, Double.NEGATIVE_INFINITY, DEVICE);
        }
        for (int c = 0; c < out.length; c++) {
            out[c] = (float) (acc[c] / sum);
        }
        return new AttentionOutput(out, max + Math.log(sum), DEVICE);
    }

    /** Scalar in double on purpose, not {@link VectorMath#dot}: the reference must not share the kernels it checks. */
    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    @Override
    public void close() {
    }
}
