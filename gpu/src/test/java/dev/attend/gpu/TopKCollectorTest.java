package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TopKCollectorTest {

    /** The randomized inputs' seed: {@code -Dattend.test.seed=N} (0 unless set) added to each literal seed. */
    private static final long SEED = Long.getLong("attend.test.seed", 0L);

    @BeforeAll
    static void printSeed() {
        System.out.println("TopKCollectorTest seed " + SEED);
    }


    @Test
    void keepsTheBestAndOrdersTiesById() {
        long seed = SEED + 42;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int trial = 0; trial < 200; trial++) {
            int n = rnd.nextInt(0, 300);
            int k = rnd.nextInt(0, 50);
            float[] scores = new float[n];
            for (int i = 0; i < n; i++) {
                scores[i] = rnd.nextInt(20); // many ties
            }
            TopKCollector c = new TopKCollector(k);
            for (int i = 0; i < n; i++) {
                c.offer(scores[i], i);
            }
            Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
            Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -scores[i]).thenComparingInt(i -> i));
            TopK got = c.drain();
            assertThat(got.size()).as("seed %d trial %d", seed, trial).isEqualTo(Math.min(k, n));
            for (int r = 0; r < got.size(); r++) {
                assertThat(got.ids()[r]).as("seed %d trial %d rank %d", seed, trial, r).isEqualTo(order[r]);
                assertThat(got.scores()[r]).isEqualTo(scores[order[r]]);
            }
            assertThat(c.size()).isZero();
        }
    }

    @Test
    void aClearedCollectorStartsAgainAsANewOne() {
        TopKCollector reused = new TopKCollector(4);
        for (int i = 0; i < 10; i++) {
            reused.offer(i, i);
        }
        reused.clear();
        assertThat(reused.size()).isZero();
        assertThat(reused.threshold()).isEqualTo(Float.NEGATIVE_INFINITY);
        TopKCollector fresh = new TopKCollector(4);
        for (float s : new float[] {3, -1, 7, 7, 0.5f}) {
            reused.offer(s, (int) s + 10);
            fresh.offer(s, (int) s + 10);
        }
        TopK a = reused.drain();
        TopK b = fresh.drain();
        assertThat(a.ids()).containsExactly(b.ids());
        assertThat(a.scores()).containsExactly(b.scores());
    }

    @Test
    void mergesCollectors() {
        TopKCollector a = new TopKCollector(3);
        TopKCollector b = new TopKCollector(3);
        a.offer(1, 1);
        a.offer(5, 5);
        b.offer(4, 4);
        b.offer(9, 9);
        b.offer(0, 0);
        a.addAll(b);
        assertThat(a.drain().ids()).containsExactly(9, 5, 4);
    }

    @Test
    void rejectsNegativeK() {
        assertThatThrownBy(() -> new TopKCollector(-1)).hasMessageContaining("k must be >= 0");
    }
}
