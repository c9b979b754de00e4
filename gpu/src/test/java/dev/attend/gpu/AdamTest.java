package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AdamTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("AdamTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    /** The rule written out in scalar code, in the order the vector loop must keep. */
    private static void reference(float rate, float[] p, int po, float[] grad, int go, float[] m, float[] v, int mo, int n, float scale,
                                  float l2) {
        for (int i = 0; i < n; i++) {
            float g = grad[go + i] * scale + l2 * p[po + i];
            m[mo + i] = Adam.BETA1 * m[mo + i] + (1 - Adam.BETA1) * g;
            v[mo + i] = Adam.BETA2 * v[mo + i] + (1 - Adam.BETA2) * g * g;
            p[po + i] -= rate * m[mo + i] / ((float) Math.sqrt(v[mo + i]) + Adam.EPSILON);
        }
    }

    @Test
    void updateGivesTheScalarRulesBitsAtEveryLengthAndOffset() {
        SplittableRandom rnd = new SplittableRandom(SEED + 21);
        float lr = 3e-3f;
        for (int length = 0; length < 70; length++) {
            float[] p = random(rnd, length + 3);
            float[] grad = random(rnd, length + 1);
            float[] m = random(rnd, length + 2);
            float[] v = random(rnd, length + 2);
            for (int i = 0; i < v.length; i++) {
                v[i] = Math.abs(v[i]);
            }
            float[] p2 = p.clone();
            float[] m2 = m.clone();
            float[] v2 = v.clone();
            Adam adam = new Adam(lr);
            adam.resume(6);
            adam.nextStep();
            adam.update(p, 3, grad, 1, m, v, 2, length, 0.25f, 1e-3f);
            float rate = (float) (lr * Math.sqrt(1 - Math.pow(Adam.BETA2, 7)) / (1 - Math.pow(Adam.BETA1, 7)));
            reference(rate, p2, 3, grad, 1, m2, v2, 2, length, 0.25f, 1e-3f);
            assertThat(p).as("length %d", length).containsExactly(p2);
            assertThat(m).containsExactly(m2);
            assertThat(v).containsExactly(v2);
        }
    }

    @Test
    void stepsMinimiseAQuadraticAndResumeWhereACheckpointLeftOff() {
        SplittableRandom rnd = new SplittableRandom(SEED + 22);
        int n = 37;
        float[] target = random(rnd, n);
        float[] p = new float[n];
        float[] m = new float[n];
        float[] v = new float[n];
        Adam adam = new Adam(0.05f);
        float[] pAt = null;
        float[] mAt = null;
        float[] vAt = null;
        float[] grad = new float[n];
        for (int step = 0; step < 400; step++) {
            if (step == 200) {
                pAt = p.clone();
                mAt = m.clone();
                vAt = v.clone();
            }
            for (int i = 0; i < n; i++) {
                grad[i] = 2 * (p[i] - target[i]);
            }
            adam.nextStep();
            adam.update(p, 0, grad, 0, m, v, 0, n);
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            worst = Math.max(worst, Math.abs(p[i] - target[i]));
        }
        System.out.println("Adam on a quadratic: worst distance to the minimum after 400 steps " + worst);
        assertThat(worst).isLessThan(1e-3);
        assertThat(adam.steps()).isEqualTo(400);

        Adam resumed = new Adam(0.05f);
        resumed.resume(200);
        for (int step = 200; step < 400; step++) {
            for (int i = 0; i < n; i++) {
                grad[i] = 2 * (pAt[i] - target[i]);
            }
            resumed.nextStep();
            resumed.update(pAt, 0, grad, 0, mAt, vAt, 0, n);
        }
        assertThat(pAt).as("resumed at step 200").containsExactly(p);
    }

    @Test
    void refusesAnUpdateBeforeTheFirstStepAndABadRate() {
        Adam adam = new Adam(1e-3f);
        float[] a = new float[4];
        assertThatThrownBy(() -> adam.update(a, 0, a, 0, a.clone(), a.clone(), 0, 4)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> new Adam(0f)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Adam(Float.NaN)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> adam.resume(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }
}
