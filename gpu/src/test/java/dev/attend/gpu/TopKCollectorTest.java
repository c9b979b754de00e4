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
    void bestOfAListIsWhatACollectorKeeps() {
        long seed = SEED + 43;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int trial = 0; trial < 300; trial++) {
            int n = rnd.nextInt(0, 400);
            int k = rnd.nextInt(1, 120);
            int offset = rnd.nextInt(0, 5);
            float[] scores = new float[offset + n];
            int[] ids = new int[offset + n];
            for (int i = 0; i < n; i++) {
                // Ties, negative scores and ids, subnormals and infinities: every case the ranking orders.
                scores[offset + i] = switch (rnd.nextInt(6)) {
                    case 0 -> rnd.nextInt(-3, 4);
                    case 1 -> Float.MIN_VALUE * rnd.nextInt(-3, 4);
                    case 2 -> rnd.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
                    default -> (float) rnd.nextGaussian();
                };
                ids[offset + i] = rnd.nextInt(-1000, 1000);
            }
            TopKCollector c = new TopKCollector(k);
            for (int i = 0; i < n; i++) {
                c.offer(scores[offset + i], ids[offset + i]);
            }
            TopK want = c.drain();
            TopK got = TopKCollector.best(scores, ids, offset, n, k);
            assertThat(got.ids()).as("seed %d trial %d", seed, trial).containsExactly(want.ids());
            assertThat(got.scores()).as("seed %d trial %d", seed, trial).containsExactly(want.scores());
            for (int r = 1; r < got.size(); r++) {
                assertThat(TopKCollector.better(got.scores()[r], got.ids()[r], got.scores()[r - 1], got.ids()[r - 1]))
                        .as("seed %d trial %d rank %d is not above rank %d", seed, trial, r, r - 1).isFalse();
            }
        }
    }

    @Test
    void rankKeysOrderAsTheCollectorRanksAndGiveBackTheirPairs() {
        long seed = SEED + 44;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int trial = 0; trial < 100_000; trial++) {
            float s1 = trial % 3 == 0 ? rnd.nextInt(-2, 3) : Float.intBitsToFloat(rnd.nextInt());
            float s2 = trial % 3 == 0 ? rnd.nextInt(-2, 3) : Float.intBitsToFloat(rnd.nextInt());
            if (Float.isNaN(s1) || Float.isNaN(s2)) {
                continue;
            }
            int id1 = rnd.nextInt();
            int id2 = trial % 2 == 0 ? id1 + rnd.nextInt(-2, 3) : rnd.nextInt();
            long k1 = TopKCollector.rankKey(s1, id1);
            long k2 = TopKCollector.rankKey(s2, id2);
            assertThat(TopKCollector.rankedId(k1)).isEqualTo(id1);
            assertThat(Float.floatToRawIntBits(TopKCollector.rankedScore(k1))).isEqualTo(Float.floatToRawIntBits(s1));
            assertThat(k1 < k2).as("seed %d: (%s, %d) vs (%s, %d)", seed, s1, id1, s2, id2)
                    .isEqualTo(TopKCollector.better(s1, id1, s2, id2));
        }
        // The one difference: -0.0 ranks below 0.0 rather than tying with it.
        assertThat(TopKCollector.rankKey(0.0f, 5)).isLessThan(TopKCollector.rankKey(-0.0f, 1));
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
