package dev.attend.recsys.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class BoundedSequenceTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("BoundedSequenceTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @Test
    void keepsTheNewestInTimeOrderWithoutDuplicates() {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        BoundedSequence s = new BoundedSequence();
        int max = 50;
        TreeSet<Long> times = new TreeSet<>();
        for (int i = 0; i < 400; i++) {
            long t = rnd.nextInt(1000);
            boolean added = s.insert(new BehaviorEvent(1, t * 7, t % 5, "pv", t), max); // same time: same event
            boolean newer = times.size() < max || t > times.first();
            assertThat(added).as("event at %d", t).isEqualTo(!times.contains(t) && newer);
            if (added) {
                times.add(t);
                if (times.size() > max) {
                    times.pollFirst();
                }
            }
        }
        s.version(42);
        BehaviorSequence got = s.snapshot(1);
        assertThat(got.length()).isEqualTo(max);
        assertThat(got.version()).isEqualTo(42);
        assertThat(got.times()).containsExactly(times.stream().mapToLong(Long::longValue).toArray());
        assertThat(got.items()).containsExactly(times.stream().mapToLong(t -> t * 7).toArray());
        assertThat(got.actions()).containsOnly("pv");
    }
}
