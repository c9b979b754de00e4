package dev.attend.recsys.model;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Adam over a {@link SequenceModel}: dense updates for the MLP, lazy updates for embedding rows (only the rows a
 * batch touched move, as in TensorFlow's LazyAdam, so a step costs the batch, not the tables). L2 regularisation
 * is added to the gradient of the parameters a step updates (touched rows only, DIN's mini-batch aware form).
 */
final class Adam {

    private static final float BETA1 = 0.9f;
    private static final float BETA2 = 0.999f;
    private static final float EPSILON = 1e-8f;

    private final SequenceModel model;
    private final float learningRate;
    private final float l2;
    private final float[][] mW;
    private final float[][] vW;
    private final float[][] mB;
    private final float[][] vB;
    private final float[][] mS;
    private final float[][] vS;
    private final Map<EmbeddingTable, float[][]> tableMoments = new IdentityHashMap<>();
    long step;

    Adam(SequenceModel model, float learningRate, float l2) {
        this.model = model;
        this.learningRate = learningRate;
        this.l2 = l2;
        Mlp mlp = model.mlp;
        mW = zerosLike(mlp.weights);
        vW = zerosLike(mlp.weights);
        mB = zerosLike(mlp.biases);
        vB = zerosLike(mlp.biases);
        mS = zerosLike(mlp.slopes);
        vS = zerosLike(mlp.slopes);
        for (EmbeddingTable t : model.tables()) {
            tableMoments.put(t, new float[][] {new float[t.weights.length], new float[t.weights.length]});
        }
    }

    /** Every moment array in a fixed order: what a checkpoint saves. */
    java.util.List<float[]> state() {
        java.util.List<float[]> out = ModelFiles.flatten(mW, vW, mB, vB, mS, vS);
        for (EmbeddingTable t : model.tables()) {
            out.add(tableMoments.get(t)[0]);
            out.add(tableMoments.get(t)[1]);
        }
        return out;
    }

    /** One step with the gradients of a batch of {@code batchSize} samples (summed in {@code g}). */
    void apply(Gradients g, int batchSize) {
        step++;
        model.weightsChanged();
        float scale = 1f / batchSize;
        double c1 = 1 - Math.pow(BETA1, step);
        double c2 = 1 - Math.pow(BETA2, step);
        float rate = (float) (learningRate * Math.sqrt(c2) / c1);
        Mlp mlp = model.mlp;
        for (int l = 0; l < mlp.layers(); l++) {
            update(mlp.weights[l], 0, g.weights[l], 0, mlp.weights[l].length, mW[l], vW[l], scale, rate, l2);
            update(mlp.biases[l], 0, g.biases[l], 0, mlp.biases[l].length, mB[l], vB[l], scale, rate, 0);
        }
        for (int l = 0; l < mlp.slopes.length; l++) {
            update(mlp.slopes[l], 0, g.slopes[l], 0, mlp.slopes[l].length, mS[l], vS[l], scale, rate, 0);
        }
        for (Map.Entry<EmbeddingTable, Map<Integer, float[]>> e : g.rows.entrySet()) {
            EmbeddingTable t = e.getKey();
            float[][] moments = tableMoments.get(t);
            if (moments[0].length < t.weights.length) { // the table grew online
                moments = new float[][] {java.util.Arrays.copyOf(moments[0], t.weights.length), java.util.Arrays.copyOf(moments[1], t.weights.length)};
                tableMoments.put(t, moments);
            }
            for (Map.Entry<Integer, float[]> row : e.getValue().entrySet()) {
                if (row.getKey() == 0) {
                    continue; // the padding/unknown row stays zero
                }
                update(t.weights, t.offset(row.getKey()), row.getValue(), 0, t.dim, moments[0], moments[1], scale, rate, l2);
            }
        }
    }

    private static void update(float[] w, int from, float[] grad, int gFrom, int count, float[] m, float[] v, float scale, float rate,
                               float l2) {
        for (int i = 0; i < count; i++) {
            int k = from + i;
            float gr = grad[gFrom + i] * scale + l2 * w[k];
            m[k] = BETA1 * m[k] + (1 - BETA1) * gr;
            v[k] = BETA2 * v[k] + (1 - BETA2) * gr * gr;
            w[k] -= rate * m[k] / ((float) Math.sqrt(v[k]) + EPSILON);
        }
    }

    private static float[][] zerosLike(float[][] a) {
        float[][] out = new float[a.length][];
        for (int i = 0; i < a.length; i++) {
            out[i] = new float[a[i].length];
        }
        return out;
    }
}
