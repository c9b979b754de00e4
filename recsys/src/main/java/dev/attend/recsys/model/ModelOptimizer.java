package dev.attend.recsys.model;

import dev.attend.gpu.Adam;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adam ({@link dev.attend.gpu.Adam}) over a {@link SequenceModel}: the moments of its parameters, dense updates for
 * the MLP, lazy updates for embedding rows (only the rows a batch touched move, as in TensorFlow's LazyAdam, so a step
 * costs the batch, not the tables). L2 regularisation is added to the gradient of the parameters a step updates
 * (touched rows only, DIN's mini-batch aware form).
 */
final class ModelOptimizer {

    private final SequenceModel model;
    private final Adam adam;
    private final float l2;
    private final float[][] mW;
    private final float[][] vW;
    private final float[][] mB;
    private final float[][] vB;
    private final float[][] mS;
    private final float[][] vS;
    private final Map<EmbeddingTable, float[][]> tableMoments = new IdentityHashMap<>();

    ModelOptimizer(SequenceModel model, float learningRate, float l2) {
        this.model = model;
        this.adam = new Adam(learningRate);
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

    /** Adam steps taken: what a checkpoint saves beside {@link #state}. */
    long steps() {
        return adam.steps();
    }

    /** Continues after {@code steps} steps of a checkpoint (whose moments were copied into {@link #state}). */
    void resume(long steps) {
        adam.resume(steps);
    }

    /** Every moment array in a fixed order: what a checkpoint saves. */
    List<float[]> state() {
        List<float[]> out = ModelFiles.flatten(mW, vW, mB, vB, mS, vS);
        for (EmbeddingTable t : model.tables()) {
            out.add(tableMoments.get(t)[0]);
            out.add(tableMoments.get(t)[1]);
        }
        return out;
    }

    /** One step with the gradients of a batch of {@code batchSize} samples (summed in {@code g}). */
    void apply(Gradients g, int batchSize) {
        adam.nextStep();
        model.weightsChanged();
        float scale = 1f / batchSize;
        Mlp mlp = model.mlp;
        for (int l = 0; l < mlp.layers(); l++) {
            adam.update(mlp.weights[l], 0, g.weights[l], 0, mW[l], vW[l], 0, mlp.weights[l].length, scale, l2);
            adam.update(mlp.biases[l], 0, g.biases[l], 0, mB[l], vB[l], 0, mlp.biases[l].length, scale, 0);
        }
        for (int l = 0; l < mlp.slopes.length; l++) {
            adam.update(mlp.slopes[l], 0, g.slopes[l], 0, mS[l], vS[l], 0, mlp.slopes[l].length, scale, 0);
        }
        for (Map.Entry<EmbeddingTable, Map<Integer, float[]>> e : g.rows.entrySet()) {
            EmbeddingTable t = e.getKey();
            float[][] moments = tableMoments.get(t);
            if (moments[0].length < t.weights.length) { // the table grew online
                moments = new float[][] {Arrays.copyOf(moments[0], t.weights.length), Arrays.copyOf(moments[1], t.weights.length)};
                tableMoments.put(t, moments);
            }
            for (Map.Entry<Integer, float[]> row : e.getValue().entrySet()) {
                if (row.getKey() == 0) {
                    continue; // the padding/unknown row stays zero
                }
                int offset = t.offset(row.getKey());
                adam.update(t.weights, offset, row.getValue(), 0, moments[0], moments[1], offset, t.dim, scale, l2);
            }
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
