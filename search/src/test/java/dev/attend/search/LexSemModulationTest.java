package dev.attend.search;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attend.gpu.VectorMath;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LexSemModulationTest {

    private static final long SEED = Long.getLong("attend.test.seed", 11L);

    @BeforeAll
    static void seed() {
        System.out.println("LexSemModulationTest seed " + SEED + " (override with -Dattend.test.seed=N)");
    }

    /** {@code k} distinct ids in {@code [0, vocabulary)}. */
    static int[] tokens(SplittableRandom rnd, int vocabulary, int k) {
        return rnd.ints(0, vocabulary).distinct().limit(k).toArray();
    }

    static float[] gaussian(SplittableRandom rnd, int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (std * rnd.nextGaussian());
        }
        return a;
    }

    static float[] weights(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (0.5 + 3 * rnd.nextDouble()); // IDF-like
        }
        return a;
    }

    /** A modulation with random parameters: a far from uniform softmax. */
    static LexSemModulation randomModulation(SplittableRandom rnd, int vocabulary, int dim, double std) {
        LexSemModulation m = new LexSemModulation(vocabulary, dim);
        for (int i = 0; i < m.w.length; i++) {
            m.w[i] = (float) (std * rnd.nextGaussian());
        }
        for (int k = 0; k < dim; k++) {
            m.b[k] = (float) (std * rnd.nextGaussian());
        }
        return m;
    }

    /** The modulated query from the definition, in double precision. */
    static double[] reference(LexSemModulation m, int[] tokens, float[] weights, float[] query) {
        int d = m.dim();
        double[] z = new double[d];
        for (int k = 0; k < d; k++) {
            z[k] = m.b[k];
            for (int t = 0; t < tokens.length; t++) {
                z[k] += (double) weights[t] * m.w[tokens[t] * d + k];
            }
        }
        double max = Arrays.stream(z).max().orElseThrow();
        double sum = 0;
        for (int k = 0; k < d; k++) {
            z[k] = Math.exp(z[k] - max);
            sum += z[k];
        }
        double sq = 0;
        for (int k = 0; k < d; k++) {
            z[k] = z[k] / sum * query[k];
            sq += z[k] * z[k];
        }
        double norm = Math.sqrt(sq);
        for (int k = 0; k < d; k++) {
            z[k] /= norm;
        }
        return z;
    }

    @Test
    void untrainedModulationIsPlainDenseRetrieval() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        for (int dim : new int[] {1, 7, 37, 384}) { // scalar tails, one vector, several
            LexSemModulation m = new LexSemModulation(50, dim);
            for (int trial = 0; trial < 20; trial++) {
                int[] tokens = tokens(rnd, 50, rnd.nextInt(0, 10));
                float[] query = gaussian(rnd, dim, 3);
                float[] out = m.modulate(tokens, weights(rnd, tokens.length), query);
                double norm = Math.sqrt(VectorMath.dotOrdered(query, 0, query, 0, dim));
                for (int k = 0; k < dim; k++) {
                    assertThat(out[k]).as("dim %d component %d", dim, k).isCloseTo((float) (query[k] / norm), within(2e-6f));
                }
                assertThat(VectorMath.dotOrdered(out, 0, out, 0, dim)).isCloseTo(1.0, within(1e-5));
            }
        }
    }

    @Test
    void trainedModulationMatchesTheDefinition() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        for (int dim : new int[] {5, 8, 37, 256}) {
            LexSemModulation m = randomModulation(rnd, 40, dim, 1.5);
            for (int trial = 0; trial < 20; trial++) {
                int[] tokens = tokens(rnd, 40, rnd.nextInt(0, 8));
                float[] weights = weights(rnd, tokens.length);
                float[] query = gaussian(rnd, dim, 1);
                float[] out = m.modulate(tokens, weights, query);
                double[] ref = reference(m, tokens, weights, query);
                for (int k = 0; k < dim; k++) {
                    assertThat((double) out[k]).as("dim %d component %d", dim, k).isCloseTo(ref[k], within(1e-5));
                }
                assertThat(m.modulate(tokens, weights, query)).as("repeatable").containsExactly(out);
            }
        }
    }

    @Test
    void theExponentialIsAccurateAndTheSameInVectorAndScalarCode() {
        int n = 4099; // not a multiple of any vector width: the scalar tail too
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -100f * i / (n - 1);
        }
        x[n - 1] = -87.3f;
        float[] e = x.clone();
        double sum = ModulationKernels.expShifted(e, 0f, n);
        double expectedSum = 0;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            assertThat(Float.floatToIntBits(e[i])).as("vector and scalar exp(%s)", x[i])
                    .isEqualTo(Float.floatToIntBits(ModulationKernels.expNonPositive(x[i])));
            double exact = Math.exp(x[i]);
            if (x[i] >= -87.33f) {
                worst = Math.max(worst, Math.abs(e[i] - exact) / exact);
            } else {
                assertThat(e[i]).isPositive().isLessThanOrEqualTo(1.2e-38f);
            }
            expectedSum += e[i];
        }
        System.out.println("exp: worst relative error " + worst);
        assertThat(worst).isLessThan(5e-7);
        assertThat(sum).isCloseTo(expectedSum, within(1e-5 * expectedSum)); // the lanes sum in float
        assertThat(ModulationKernels.expNonPositive(0f)).isEqualTo(1f);
    }

    @Test
    void modulateRejectsBadInput() {
        LexSemModulation m = new LexSemModulation(10, 4);
        float[] q = {1, 2, 3, 4};
        assertThatThrownBy(() -> m.modulate(new int[] {1, 2}, new float[] {1}, q))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("differ in length");
        assertThatThrownBy(() -> m.modulate(new int[] {1}, new float[] {1}, new float[] {1, 2, 3}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 dimensions").hasMessageContaining("dim 4");
        assertThatThrownBy(() -> m.modulate(new int[] {1, 10}, new float[] {1, 1}, q))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token 10 at position 1")
                .hasMessageContaining("[0, 10)");
        assertThatThrownBy(() -> m.modulate(new int[] {-1}, new float[] {1}, q))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("token -1");
        assertThatThrownBy(() -> m.modulate(new int[] {3}, new float[] {Float.NaN}, q))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weight NaN at position 0");
        assertThatThrownBy(() -> m.modulate(new int[] {3}, new float[] {Float.POSITIVE_INFINITY}, q))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not finite");
        assertThatThrownBy(() -> m.modulate(new int[] {3}, new float[] {1}, new float[] {1, Float.NaN, 0, 0}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("query component 1 is NaN");
        assertThatThrownBy(() -> m.modulate(new int[] {3}, new float[] {1}, new float[] {0, 0, Float.NEGATIVE_INFINITY, 0}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("query component 2");
        assertThatThrownBy(() -> m.modulate(new int[] {3}, new float[] {1}, new float[4]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("zero vector");
        assertThatThrownBy(() -> m.modulate(null, new float[0], q)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> new LexSemModulation(0, 4)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("vocabulary");
        assertThatThrownBy(() -> new LexSemModulation(4, -1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dim");
        assertThatThrownBy(() -> new LexSemModulation(1 << 20, 1 << 12)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("largest float array");
        assertThat(m.modulate(new int[0], new float[0], q)).hasSize(4); // no tokens: z = b
    }
}
