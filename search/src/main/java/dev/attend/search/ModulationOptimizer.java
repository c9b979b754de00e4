package dev.attend.search;

import dev.attend.gpu.Adam;

/**
 * The optimiser of a {@link LexSemModulation}'s training: {@link Adam} with lazy updates of {@code W} (as LazyAdam):
 * only the rows of the tokens in a batch get their moments updated and move, with the bias correction of the global
 * step; a row's moments are allocated when its token first occurs, so memory follows the tokens seen, not the
 * vocabulary. {@code b} is updated densely every step; with learned token weights, the rows of {@code U} and the
 * entries of {@code c} lazily like {@code W}'s. The moments live for one {@link ModulationTrainer#train} call; a
 * second call continues from the parameters with fresh moments.
 */
final class ModulationOptimizer {

    private final LexSemModulation m;
    private final Adam adam;
    private final float[][] mW;
    private final float[][] vW;
    private final float[] mB;
    private final float[] vB;
    private final float[][] mU;
    private final float[][] vU;
    private final float[] mC;
    private final float[] vC;

    ModulationOptimizer(LexSemModulation m, float learningRate) {
        this.m = m;
        this.adam = new Adam(learningRate);
        mW = new float[m.vocabulary()][];
        vW = new float[m.vocabulary()][];
        mB = new float[m.dim()];
        vB = new float[m.dim()];
        boolean learned = m.learnsWeights();
        mU = learned ? new float[m.vocabulary()][] : null;
        vU = learned ? new float[m.vocabulary()][] : null;
        mC = learned ? new float[m.vocabulary()] : null;
        vC = learned ? new float[m.vocabulary()] : null;
    }

    /** One step with a batch's gradients: the rows of its tokens, and {@code b}. */
    void step(ModulationLoss.Gradients g) {
        int d = m.dim();
        adam.nextStep();
        for (int r = 0; r < g.tokens().length; r++) {
            int t = g.tokens()[r];
            if (mW[t] == null) {
                mW[t] = new float[d];
                vW[t] = new float[d];
            }
            adam.update(m.w, t * d, g.dW()[r], 0, mW[t], vW[t], 0, d);
            if (g.dU() != null) {
                if (mU[t] == null) {
                    mU[t] = new float[d];
                    vU[t] = new float[d];
                }
                adam.update(m.u, t * d, g.dU()[r], 0, mU[t], vU[t], 0, d);
                adam.update(m.c, t, g.dc(), r, mC, vC, t, 1);
            }
        }
        adam.update(m.b, 0, g.db(), 0, mB, vB, 0, d);
    }
}
