package dev.attend.index.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class NeighborGraphTest {

    private static final long SEED = Long.getLong("attend.test.seed", 3L);

    @Test
    void listsReadBackAsSetAcrossPagesWhileTheGraphGrowsNodeByNode() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int maxDegree = 7;
        NeighborGraph graph = new NeighborGraph(maxDegree, 0);
        int n = 2 * NeighborGraph.PAGE_NODES + 301;
        int[][] want = new int[n][];
        long edges = 0;
        for (int node = 0; node < n; node++) {
            // Appended one at a time, as a session's keys join; now and then an earlier list is replaced.
            want[node] = randomList(rnd, maxDegree, node + 1);
            graph.set(node, want[node]);
            edges += want[node].length;
            if (rnd.nextInt(4) == 0) {
                int old = rnd.nextInt(node + 1);
                edges -= want[old].length;
                want[old] = randomList(rnd, maxDegree, node + 1);
                graph.set(old, want[old]);
                edges += want[old].length;
            }
        }
        int[] buffer = new int[maxDegree];
        for (int node = 0; node < n; node++) {
            assertThat(graph.neighbors(node)).as("node %d", node).isEqualTo(want[node]);
            assertThat(graph.degree(node)).isEqualTo(want[node].length);
            int d = graph.copyNeighbors(node, buffer);
            assertThat(Arrays.copyOf(buffer, d)).isEqualTo(want[node]);
            for (int to : want[node]) {
                assertThat(graph.has(node, to)).isTrue();
            }
        }
        assertThat(graph.edges()).isEqualTo(edges);
        assertThat(graph.neighbors(n + 5)).isEmpty();
        assertThat(graph.degree(n + 5)).isZero();
        assertThat(graph.has(n + 5, 0)).isFalse();
        // Full pages of 4,096 nodes of 8 ints, the last only as large as it needs (doubling).
        assertThat(graph.memoryBytes()).isBetween(4L * 8 * n, 4L * 8 * (3L * NeighborGraph.PAGE_NODES) + 16 * 3);
    }

    @Test
    void ensureMakesRoomWithoutMovingListsAndRefusesLongLists() {
        NeighborGraph graph = new NeighborGraph(3, 10);
        graph.set(9, new int[] {1, 2, 3});
        graph.ensure(NeighborGraph.PAGE_NODES * 3 + 1);
        assertThat(graph.neighbors(9)).containsExactly(1, 2, 3);
        graph.set(NeighborGraph.PAGE_NODES * 3, new int[] {9});
        graph.set(9, new int[] {4});
        assertThat(graph.neighbors(9)).containsExactly(4);
        assertThat(graph.neighbors(NeighborGraph.PAGE_NODES * 3)).containsExactly(9);
        assertThat(graph.edges()).isEqualTo(2);
        assertThatThrownBy(() -> graph.set(2, new int[] {1, 2, 3, 4})).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("degree 4 exceeds 3");
        assertThat(graph.neighbors(2)).isEmpty();
    }

    private static int[] randomList(SplittableRandom rnd, int maxDegree, int nodes) {
        return rnd.ints(rnd.nextInt(maxDegree + 1), 0, nodes).toArray();
    }
}
