package dev.attend.gpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Adam (Kingma and Ba, 2015; {@code beta1 = 0.9}, {@code beta2 = 0.999}, {@code eps = 1e-8}), the one optimiser every
 * trainer of the engine steps with. It holds the step count and the update rule; the caller owns the parameters and
 * their first and second moments, dense or per row: a caller that updates only the rows a batch touched (TensorFlow's
 * LazyAdam) keeps moments for those rows only and passes their offsets. The bias correction is folded into the step
 * size ({@code lr sqrt(1 - beta2^t) / (1 - beta1^t)}) and {@code eps} is added to {@code sqrt(v)}, the paper's
 * efficient form. The update runs on the Vector API with IEEE-exact lane operations in the scalar loop's order, so
 * its bits do not depend on the vector width or the JIT.
 */
public final class Adam {

    public static final float BETA1 = 0.9f;
    public static final float BETA2 = 0.999f;
    public static final float EPSILON = 1e-8f;
    private static final VectorSpecies<Float> SPECIES = Simd.FLOATS;

    private final float learningRate;
    private long steps;
    /** The bias-corrected step size of step {@link #steps}. */
    private float rate;

    /** An optimiser at step 0 with step size {@code learningRate}. */
    public Adam(float learningRate) {
        if (!(learningRate > 0) || !Float.isFinite(learningRate)) {
            throw new IllegalArgumentException("learningRate must be positive and finite, got " + learningRate);
        }
        this.learningRate = learningRate;
    }

    public float learningRate() {
        return learningRate;
    }

    /** The steps begun so far. */
    public long steps() {
        return steps;
    }

    /** Continues from a checkpoint taken after {@code steps} steps (the caller restores the moments). */
    public void resume(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps must not be negative, got " + steps);
        }
        this.steps = steps;
        rate = steps == 0 ? 0 : rateAt(steps);
    }

    /** Begins the next step: the {@link #update}s that follow use its bias correction. */
    public void nextStep() {
        steps++;
        rate = rateAt(steps);
    }

    private float rateAt(long step) {
        double c1 = 1 - Math.pow(BETA1, step);
        double c2 = 1 - Math.pow(BETA2, step);
        return (float) (learningRate * Math.sqrt(c2) / c1);
    }

    /**
     * Updates {@code length} parameters with their gradients: {@code g = gradScale * grad + l2 * p} (L2 regularisation
     * on the parameters this step updates), {@code m = beta1 m + (1 - beta1) g}, {@code v = beta2 v + (1 - beta2) g^2},
     * {@code p -= rate m / (sqrt(v) + eps)}.
     *
     * @param params the parameters, from {@code paramOffset}
     * @param grad the gradients, from {@code gradOffset}
     * @param m the first moments, from {@code momentOffset}
     * @param v the second moments, from {@code momentOffset}
     * @param gradScale multiplies the gradient (1 over the batch size for a summed gradient)
     * @param l2 the L2 regularisation weight, 0 for none
     * @throws IllegalStateException before the first {@link #nextStep}
     */
    public void update(float[] params, int paramOffset, float[] grad, int gradOffset, float[] m, float[] v, int momentOffset, int length,
                       float gradScale, float l2) {
        if (steps == 0) {
            throw new IllegalStateException("nextStep() first: no step has begun");
        }
        int lanes = SPECIES.length();
        FloatVector scale = FloatVector.broadcast(SPECIES, gradScale);
        FloatVector decay = FloatVector.broadcast(SPECIES, l2);
        FloatVector rateV = FloatVector.broadcast(SPECIES, rate);
        int i = 0;
        for (; i + lanes <= length; i += lanes) {
            int p = paramOffset + i;
            int s = momentOffset + i;
            FloatVector w = FloatVector.fromArray(SPECIES, params, p);
            FloatVector g = FloatVector.fromArray(SPECIES, grad, gradOffset + i).mul(scale).add(decay.mul(w));
            FloatVector mk = FloatVector.fromArray(SPECIES, m, s).mul(BETA1).add(g.mul(1 - BETA1));
            FloatVector vk = FloatVector.fromArray(SPECIES, v, s).mul(BETA2).add(g.mul(1 - BETA2).mul(g));
            mk.intoArray(m, s);
            vk.intoArray(v, s);
            w.sub(rateV.mul(mk).div(vk.sqrt().add(EPSILON))).intoArray(params, p);
        }
        for (; i < length; i++) {
            int p = paramOffset + i;
            int s = momentOffset + i;
            float g = grad[gradOffset + i] * gradScale + l2 * params[p];
            m[s] = BETA1 * m[s] + (1 - BETA1) * g;
            v[s] = BETA2 * v[s] + (1 - BETA2) * g * g;
            params[p] -= rate * m[s] / ((float) Math.sqrt(v[s]) + EPSILON);
        }
    }

    /** {@link #update(float[], int, float[], int, float[], float[], int, int, float, float)} unscaled, without L2. */
    public void update(float[] params, int paramOffset, float[] grad, int gradOffset, float[] m, float[] v, int momentOffset, int length) {
        update(params, paramOffset, grad, gradOffset, m, v, momentOffset, length, 1f, 0f);
    }
}
