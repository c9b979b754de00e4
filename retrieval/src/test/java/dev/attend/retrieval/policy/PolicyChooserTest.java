package dev.attend.retrieval.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The automatic choice on planted heads: one that attends to its recent tokens, one that reaches back. */
class PolicyChooserTest {

    private static final int DIM = 16;

    /**
     * Keys carry their position as an angle on two dimensions (a rotation, as RoPE, under one turn over the head); a
     * local head's queries point at their own position sharply, a retrieval head's at a random earlier one.
     */
    private static float[][][] head(long seed, boolean local, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[][] keys = new float[n][DIM];
        float[][] queries = new float[n][DIM];
        for (int t = 0; t < n; t++) {
            double angle = t * 0.001;
            keys[t][0] = (float) Math.cos(angle);
            keys[t][1] = (float) Math.sin(angle);
            for (int c = 2; c < DIM; c++) {
                keys[t][c] = (float) (0.1 * rnd.nextGaussian());
            }
            double target = local ? angle : rnd.nextInt(t + 1) * 0.001;
            queries[t][0] = (float) (6000 * Math.cos(target));
            queries[t][1] = (float) (6000 * Math.sin(target));
        }
        return new float[][][] {keys, queries};
    }

    private static int[] positions(int n) {
        int[] p = new int[n];
        for (int t = 0; t < n; t++) {
            p[t] = t;
        }
        return p;
    }

    /** A head whose queries spread over every earlier key alike: nothing concentrates its mass. */
    private static float[][][] diffuse(long seed, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[][] keys = new float[n][DIM];
        float[][] queries = new float[n][DIM];
        for (int t = 0; t < n; t++) {
            for (int c = 0; c < DIM; c++) {
                keys[t][c] = (float) rnd.nextGaussian();
                queries[t][c] = (float) (0.05 * rnd.nextGaussian());
            }
        }
        return new float[][][] {keys, queries};
    }

    @Test
    void aDiffuseHeadGetsATailEstimate() {
        int n = 2000;
        float[][][] h = diffuse(4, n);
        PolicyChooser.Choice c = PolicyChooser.choose(h[0], h[1], positions(n), 1f, 4, 64, 100, PolicyChooser.DEFAULT_MAX_MASS_OUTSIDE);
        System.out.printf("diffuse head: mass outside %.3f, top-100 share of it %.3f -> %s%n", c.massOutsideMean(), c.topKShare(),
                c.policy().spec());
        assertThat(c.policy()).isEqualTo(new HeadPolicy.RetrievalTail(4, 64, 100, 0));
        assertThat(c.topKShare()).isLessThan(PolicyChooser.CONCENTRATED);
    }

    @Test
    void aLocalHeadStreamsAndAReachingHeadRetrievesTheSameWayEveryTime() {
        int n = 2000;
        float[][][] local = head(1, true, n);
        float[][][] reaching = head(2, false, n);
        PolicyChooser.Choice a = PolicyChooser.choose(local[0], local[1], positions(n), 1f, 4, 64, 100, PolicyChooser.DEFAULT_MAX_MASS_OUTSIDE);
        PolicyChooser.Choice b = PolicyChooser.choose(reaching[0], reaching[1], positions(n), 1f, 4, 64, 100,
                PolicyChooser.DEFAULT_MAX_MASS_OUTSIDE);
        System.out.printf("planted heads: local head's mass outside sinks + window %.4f -> %s; reaching head's %.4f (top-100 share %.3f) -> %s%n",
                a.massOutsideMean(), a.policy().spec(), b.massOutsideMean(), b.topKShare(), b.policy().spec());
        assertThat(a.policy()).isEqualTo(new HeadPolicy.Streaming(4, 64));
        assertThat(a.massOutsideMean()).isLessThan(0.01);
        assertThat(b.policy()).isEqualTo(new HeadPolicy.Retrieval(4, 64, 100));
        assertThat(b.massOutsideMean()).isGreaterThan(0.1);
        assertThat(a.queriesMeasured()).isEqualTo(PolicyChooser.MAX_QUERIES);
        // deterministic: the same prefill, the same answer to the bit
        PolicyChooser.Choice again = PolicyChooser.choose(reaching[0], reaching[1], positions(n), 1f, 4, 64, 100,
                PolicyChooser.DEFAULT_MAX_MASS_OUTSIDE);
        assertThat(again).isEqualTo(b);
        // no queries: nothing shows the context can go
        assertThat(PolicyChooser.choose(local[0], new float[0][], new int[0], 1f, 4, 64, 100, 0.01).policy())
                .isEqualTo(new HeadPolicy.Retrieval(4, 64, 100));
    }

    @Test
    void badArgumentsAreRejected() {
        float[][][] h = head(3, true, 10);
        assertThatThrownBy(() -> PolicyChooser.choose(h[0], h[1], new int[3], 1f, 4, 64, 100, 0.01)).hasMessageContaining("positions");
        assertThatThrownBy(() -> PolicyChooser.choose(h[0], h[1], positions(10), 1f, 4, 64, 100, 2)).hasMessageContaining("[0, 1]");
        int[] beyond = positions(10);
        beyond[9] = 10;
        assertThatThrownBy(() -> PolicyChooser.choose(h[0], h[1], beyond, 1f, 4, 64, 100, 0.01)).hasMessageContaining("outside the 10 keys");
    }
}
