package dev.attend.index.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GraphBuilderTest {

    @Test
    void selfLinkWindowsCoverTheKeysInEqualPartsOfAtLeastTheWindow() {
        SplittableRandom rnd = new SplittableRandom(0x5e1f11d);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(trial < 100 ? 200 : 600_000);
            int window = 1 + rnd.nextInt(trial < 100 ? 50 : 20_000);
            int windows = GraphBuilder.selfLinkWindows(n, window);
            assertThat(GraphBuilder.windowStart(0, windows, n)).isZero();
            assertThat(GraphBuilder.windowStart(windows, windows, n)).isEqualTo(n);
            for (int w = 0; w < windows; w++) {
                int size = GraphBuilder.windowStart(w + 1, windows, n) - GraphBuilder.windowStart(w, windows, n);
                assertThat(size).as("n=%d window=%d: window %d of %d", n, window, w, windows)
                        .isGreaterThanOrEqualTo(Math.min(n, window)).isLessThan(2 * window);
            }
            for (int i = 0; i < 50; i++) {
                int node = i < 2 ? (i == 0 ? 0 : n - 1) : rnd.nextInt(n);
                int w = GraphBuilder.windowOf(node, windows, n);
                assertThat(node).isBetween(GraphBuilder.windowStart(w, windows, n), GraphBuilder.windowStart(w + 1, windows, n) - 1);
            }
        }
    }

    @Test
    void headsBelowTwoWindowsAreOneWindow() {
        assertThat(GraphBuilder.selfLinkWindows(32_767, 16_384)).isEqualTo(1);
        assertThat(GraphBuilder.selfLinkWindows(32_768, 16_384)).isEqualTo(2);
        assertThat(GraphBuilder.selfLinkWindows(131_072, 16_384)).isEqualTo(8);
        assertThat(GraphBuilder.selfLinkWindows(10, 16_384)).isEqualTo(1);
    }
}
