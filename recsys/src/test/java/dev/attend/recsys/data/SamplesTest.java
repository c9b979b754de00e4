package dev.attend.recsys.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SamplesTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("SamplesTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    /** {@code users} users with 3 + u behaviours each over 50 items, times shuffled within a user. */
    private static List<BehaviorEvent> events(int users, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<BehaviorEvent> out = new ArrayList<>();
        for (int u = 0; u < users; u++) {
            for (int i = 0; i < 3 + u; i++) {
                int item = rnd.nextInt(1, 50);
                out.add(new BehaviorEvent(1000 + u, item, item % 5, "pv", 10_000 - 7L * i)); // input newest first
            }
        }
        return out;
    }

    @Test
    void sequencesAreTimeOrderedWithTiesInInputOrder() {
        List<BehaviorEvent> ev = List.of(new BehaviorEvent(7, 1, 1, "pv", 30), new BehaviorEvent(7, 2, 1, "pv", 10),
                new BehaviorEvent(7, 3, 2, "pv", 30), new BehaviorEvent(8, 1, 1, "buy", 5));
        UserSequences s = UserSequences.of(ev);
        int u = s.userIndex(7);
        assertThat(s.timesOf(u)).containsExactly(10, 30, 30);
        assertThat(s.itemsOf(u)).containsExactly(s.itemIndex(2), s.itemIndex(1), s.itemIndex(3));
        assertThat(s.items()).isEqualTo(3);
        assertThat(s.itemCounts()[s.itemIndex(1)]).isEqualTo(2);
        assertThat(s.itemIndex(99)).isZero();
        assertThat(s.userIndex(99)).isEqualTo(-1);
    }

    @Test
    void lastIsTestTheOneBeforeValidationAndTrainingTargetsPrecedeThem() {
        UserSequences data = UserSequences.of(events(12, 3));
        SampleProtocol p = new SampleProtocol(4, 5, 3, 2, 9);
        Samples s = Samples.cut(data, p);
        assertThat(s.usersSkipped()).isEqualTo(1); // the user with 3 behaviours
        assertThat(s.usersKept()).isEqualTo(11);
        for (Sample t : s.test()) {
            int n = data.itemsOf(t.user()).length;
            assertThat(t.historyTo()).isEqualTo(n - 1);
            assertThat(t.historyLength()).isBetween(1, 5);
        }
        for (Sample v : s.validation()) {
            assertThat(v.historyTo()).isEqualTo(data.itemsOf(v.user()).length - 2);
        }
        for (Sample t : s.train()) {
            int n = data.itemsOf(t.user()).length;
            assertThat(t.historyTo()).isBetween(Math.max(1, n - 5), n - 3);
            assertThat(t.historyLength()).isEqualTo(Math.min(5, t.historyTo()));
        }
        // Positives carry the true item; negatives are items the user never touched.
        for (List<Sample> split : List.of(s.train(), s.validation(), s.test())) {
            for (Sample x : split) {
                Set<Integer> touched = new HashSet<>();
                for (int item : data.itemsOf(x.user())) {
                    touched.add(item);
                }
                if (x.label() == 1) {
                    assertThat(x.item()).isEqualTo(data.itemsOf(x.user())[x.historyTo()]);
                } else {
                    assertThat(touched).doesNotContain(x.item());
                    assertThat(x.category()).isEqualTo(data.categoryOf(x.item()));
                }
            }
        }
        assertThat(s.test().stream().filter(x -> x.label() == 0).count()).isEqualTo(2L * s.test().stream().filter(x -> x.label() == 1).count());
        // Reproducible from the seed; another seed draws other negatives.
        assertThat(Samples.cut(data, p)).isEqualTo(s);
        assertThat(Samples.cut(data, p.withSeed(10)).train()).isNotEqualTo(s.train());
        assertThatThrownBy(() -> new SampleProtocol(3, 5, 1, 1, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void negativesFollowItemFrequency() {
        long[] counts = {0, 1, 3, 6, 0, 10};
        FrequencySampler sampler = new FrequencySampler(counts);
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        int draws = 200_000;
        int[] seen = new int[counts.length];
        for (int i = 0; i < draws; i++) {
            seen[sampler.next(rnd)]++;
        }
        assertThat(seen[0]).isZero();
        assertThat(seen[4]).isZero();
        for (int i = 1; i < counts.length; i++) {
            assertThat(seen[i] / (double) draws).isCloseTo(counts[i] / 20.0, Offset.offset(0.005));
        }
    }
}
