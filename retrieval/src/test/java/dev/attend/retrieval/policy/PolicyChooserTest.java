package dev.attend.retrieval.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The automatic choice on planted heads: one that attends to its recent tokens, one that reaches back. */
class PolicyChooserTest {

    private static final int DIM = 16;

    private static float[][][] head(long seed, boolean local, int n) {
        return PlantedHeads.head(seed, local, n, DIM);
    }

    private static int[] positions(int n) {
        int[] p = new int[n];
        for (int t = 0; t < n; t++) {
            p[t] = t;
        }
        return p;
    }

    private static float[][][] diffuse(long seed, int n) {
        return PlantedHeads.diffuse(seed, n, DIM);
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
