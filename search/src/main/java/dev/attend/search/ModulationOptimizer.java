package dev.attend.search;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The optimiser of a {@link LexSemModulation}'s training: Adam ({@code beta1 = 0.9}, {@code beta2 = 0.999},
 * {@code eps = 1e-8}) with lazy updates of {@code W} (as LazyAdam): only the rows of the tokens in a batch get their
 * moments updated and move, with the bias correction of the global step; a row's moments are allocated when its
 * token first occurs, so memory follows the tokens seen, not the vocabulary. {@code b} is updated densely every
 * step; with learned token weights, the rows of {@code U} and the entries of {@code c} lazily like {@code W}'s. The
 * moments live for one {@link ModulationTrainer#train} call; a second call continues from the parameters with fresh
 * moments.
 */
final class ModulationOptimizer {

    private static final VectorSpecies<Float> SPECIES = ModulationKernels.SPECIES;
    private static final int LANES = ModulationKernels.LANES;
    static final float BETA1 = 0.9f;
    static final float BETA2 = 0.999f;
    static final float EPSILON = 1e-8f;

    private final LexSemModulation m;
    private final float[][] mW;
    private final float[][] vW;
    private final float[] mB;
    private final float[] vB;
    private final float[][] mU;
    private final float[][] vU;
    private final float[] mC;
    private final float[] vC;
    private long step;

    ModulationOptimizer(LexSemModulation m) {
        this.m = m;
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

    void step(ModulationLoss.Gradients g, float lr, int d) {
        step++;
        float c1 = (float) (1 - Math.pow(BETA1, step));
        float c2 = (float) (1 - Math.pow(BETA2, step));
        for (int r = 0; r < g.tokens().length; r++) {
            int t = g.tokens()[r];
            if (mW[t] == null) {
                mW[t] = new float[d];
                vW[t] = new float[d];
            }
            update(m.w, t * d, mW[t], vW[t], g.dW()[r], d, lr, c1, c2);
            if (g.dU() != null) {
                if (mU[t] == null) {
                    mU[t] = new float[d];
                    vU[t] = new float[d];
                }
                update(m.u, t * d, mU[t], vU[t], g.dU()[r], d, lr, c1, c2);
                float gc = g.dc()[r];
                mC[t] = mC[t] * BETA1 + gc * (1 - BETA1);
                vC[t] = vC[t] * BETA2 + gc * gc * (1 - BETA2);
                m.c[t] -= mC[t] / c1 * lr / ((float) Math.sqrt(vC[t] / c2) + EPSILON);
            }
        }
        update(m.b, 0, mB, vB, g.db(), d, lr, c1, c2);
    }

    /** {@code p[off + k] -= lr mhat_k / (sqrt(vhat_k) + eps)} after the moment updates with gradient {@code g}. */
    private static void update(float[] p, int off, float[] mom, float[] vel, float[] g, int d, float lr, float c1, float c2) {
        FloatVector b1 = FloatVector.broadcast(SPECIES, BETA1);
        FloatVector b1c = FloatVector.broadcast(SPECIES, 1 - BETA1);
        FloatVector b2 = FloatVector.broadcast(SPECIES, BETA2);
        FloatVector b2c = FloatVector.broadcast(SPECIES, 1 - BETA2);
        FloatVector c1v = FloatVector.broadcast(SPECIES, c1);
        FloatVector c2v = FloatVector.broadcast(SPECIES, c2);
        FloatVector lrv = FloatVector.broadcast(SPECIES, lr);
        FloatVector eps = FloatVector.broadcast(SPECIES, EPSILON);
        int k = 0;
        for (; k + LANES <= d; k += LANES) {
            FloatVector gk = FloatVector.fromArray(SPECIES, g, k);
            FloatVector mk = FloatVector.fromArray(SPECIES, mom, k).mul(b1).add(gk.mul(b1c));
            FloatVector vk = FloatVector.fromArray(SPECIES, vel, k).mul(b2).add(gk.mul(gk).mul(b2c));
            mk.intoArray(mom, k);
            vk.intoArray(vel, k);
            FloatVector stepK = mk.div(c1v).mul(lrv).div(vk.div(c2v).sqrt().add(eps));
            FloatVector.fromArray(SPECIES, p, off + k).sub(stepK).intoArray(p, off + k);
        }
        for (; k < d; k++) {
            float gk = g[k];
            float mk = mom[k] * BETA1 + gk * (1 - BETA1);
            float vk = vel[k] * BETA2 + gk * gk * (1 - BETA2);
            mom[k] = mk;
            vel[k] = vk;
            p[off + k] -= mk / c1 * lr / ((float) Math.sqrt(vk / c2) + EPSILON);
        }
    }
}
