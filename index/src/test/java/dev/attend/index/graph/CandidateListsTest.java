package dev.attend.index.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class CandidateListsTest {

    private static final long SEED = Long.getLong("attend.test.seed", 7L);

    @Test
    void uncappedKeepsFirstSeenOrderAndLeavesTheScratchClean() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int nodes = 500;
        CandidateLists lists = new CandidateLists(nodes);
        int[] added = rnd.ints(5000, 0, nodes).toArray();
        for (int from = 0; from < added.length; from += 100) {
            lists.add(3, Arrays.copyOfRange(added, from, from + 100), 100);
        }
        int[] counts = new int[nodes];
        int[] distinct = lists.mostFrequent(3, Integer.MAX_VALUE, counts);
        int[] expected = IntStream.of(added).distinct().toArray(); // first-seen order
        assertThat(distinct).containsExactly(expected);
        assertThat(IntStream.of(counts).allMatch(c -> c == 0)).isTrue();
        assertThat(lists.mostFrequent(4, Integer.MAX_VALUE, counts)).isEmpty();

        assertThat(lists.compact()).isEqualTo(expected.length);
        assertThat(Arrays.copyOf(lists.list(3), lists.size(3))).containsExactly(expected);
    }

    @Test
    void cappedKeepsTheMostFrequentTiesInFirstSeenOrder() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int nodes = 300;
        CandidateLists lists = new CandidateLists(nodes);
        // Skewed: low values repeat more, and many values share a count.
        int[] added = rnd.ints(4000, 0, nodes).map(v -> v * v / nodes).toArray();
        lists.add(9, added, added.length);
        Map<Integer, Integer> count = new HashMap<>();
        Map<Integer, Integer> first = new HashMap<>();
        for (int i = 0; i < added.length; i++) {
            count.merge(added[i], 1, Integer::sum);
            first.putIfAbsent(added[i], i);
        }
        List<Integer> order = count.keySet().stream()
                .sorted(Comparator.<Integer>comparingInt(v -> -count.get(v)).thenComparingInt(first::get)).toList();
        int[] counts = new int[nodes];
        for (int cap : new int[] {1, 17, 64, order.size() - 1, order.size(), order.size() + 5}) {
            int[] kept = lists.mostFrequent(9, cap, counts);
            if (cap >= order.size()) {
                assertThat(kept).containsExactly(IntStream.of(added).distinct().toArray());
            } else {
                assertThat(kept).containsExactly(order.subList(0, cap).stream().mapToInt(Integer::intValue).toArray());
            }
            assertThat(IntStream.of(counts).allMatch(c -> c == 0)).isTrue();
        }
    }
}
