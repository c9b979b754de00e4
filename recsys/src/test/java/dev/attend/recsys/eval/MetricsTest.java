package dev.attend.recsys.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class MetricsTest {

    static final long SEED = Long.getLong("attend.test.seed", 23);

    @BeforeAll
    static void printSeed() {
        System.out.println("MetricsTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    /** Every positive-negative pair: 1 when the positive scores higher, 1/2 on a tie. */
    private static double bruteForceAuc(float[] s, float[] l) {
        double wins = 0;
        long pairs = 0;
        for (int i = 0; i < s.length; i++) {
            for (int j = 0; j < s.length; j++) {
                if (l[i] == 1 && l[j] == 0) {
                    pairs++;
                    wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
                }
            }
        }
        return pairs == 0 ? Double.NaN : wins / pairs;
    }

    @Test
    void aucAndGaucMatchBruteForceIncludingTies() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        for (int trial = 0; trial < 20; trial++) {
            int n = 50 + rnd.nextInt(300);
            float[] s = new float[n];
            float[] l = new float[n];
            long[] g = new long[n];
            for (int i = 0; i < n; i++) {
                l[i] = rnd.nextDouble() < 0.3 ? 1 : 0;
                s[i] = (float) Math.round((l[i] + rnd.nextGaussian()) * 4) / 4; // coarse: many ties
                g[i] = rnd.nextInt(7);
            }
            assertThat(Metrics.auc(s, l)).as("seed " + SEED + " trial " + trial).isCloseTo(bruteForceAuc(s, l), within(1e-12));
            double weighted = 0;
            long weight = 0;
            for (long group = 0; group < 7; group++) {
                int m = 0;
                for (long x : g) {
                    m += x == group ? 1 : 0;
                }
                float[] gs = new float[m];
                float[] gl = new float[m];
                int k = 0;
                for (int i = 0; i < n; i++) {
                    if (g[i] == group) {
                        gs[k] = s[i];
                        gl[k++] = l[i];
                    }
                }
                double a = bruteForceAuc(gs, gl);
                if (!Double.isNaN(a)) {
                    weighted += a * m;
                    weight += m;
                }
            }
            assertThat(Metrics.gauc(s, l, g)).isCloseTo(weighted / weight, within(1e-12));
        }
    }

    @Test
    void edgeCases() {
        assertThat(Metrics.auc(new float[] {0.1f, 0.9f}, new float[] {0, 1})).isEqualTo(1.0);
        assertThat(Metrics.auc(new float[] {0.9f, 0.1f}, new float[] {0, 1})).isEqualTo(0.0);
        assertThat(Metrics.auc(new float[] {0.5f, 0.5f}, new float[] {0, 1})).isEqualTo(0.5);
        assertThat(Metrics.auc(new float[] {0.5f, 0.7f}, new float[] {1, 1})).isNaN();
        assertThat(Metrics.gauc(new float[] {0.5f, 0.7f}, new float[] {1, 0}, new long[] {1, 2})).isNaN();
        assertThat(Metrics.logloss(new float[] {0.5f}, new float[] {1})).isCloseTo(Math.log(2), within(1e-9));
        assertThat(Metrics.logloss(new float[] {0f}, new float[] {1})).isCloseTo(-Math.log(1e-7), within(1e-6));
    }
}
