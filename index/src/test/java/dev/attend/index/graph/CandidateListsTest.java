package dev.attend.index.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class CandidateListsTest {

    private static final long SEED = Long.getLong("attend.test.seed", 7L);

    @Test
    void distinctKeepsFirstSeenOrderAndLeavesTheScratchClean() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int nodes = 500;
        CandidateLists lists = new CandidateLists(nodes);
        int[] added = rnd.ints(5000, 0, nodes).toArray();
        for (int from = 0; from < added.length; from += 100) {
            lists.add(3, Arrays.copyOfRange(added, from, from + 100), 100);
        }
        boolean[] seen = new boolean[nodes];
        int[] distinct = lists.distinct(3, seen);
        int[] expected = IntStream.of(added).distinct().toArray(); // first-seen order
        assertThat(distinct).containsExactly(expected);
        assertThat(IntStream.range(0, nodes).noneMatch(i -> seen[i])).isTrue();
        assertThat(lists.distinct(4, seen)).isEmpty();

        assertThat(lists.compact()).isEqualTo(expected.length);
        assertThat(Arrays.copyOf(lists.list(3), lists.size(3))).containsExactly(expected);
    }
}
