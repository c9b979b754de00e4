package dev.attend.recsys.serving;

import dev.attend.index.store.KilledWriter;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.recsys.data.BehaviorEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;

class BehaviorSequenceStoreTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("BehaviorSequenceStoreTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    private static BehaviorEvent ev(long user, long item, long time) {
        return new BehaviorEvent(user, item, item % 7, "pv", time);
    }

    @Test
    void keepsEventTimeOrderDropsDuplicatesAndBoundsEachUser() throws Exception {
        try (BehaviorSequenceStore store = BehaviorSequenceStore.inMemory(5)) {
            assertThat(store.append(List.of(ev(1, 10, 100), ev(1, 11, 300), ev(1, 12, 200), ev(2, 20, 50)))).isEqualTo(4);
            BehaviorSequence s = store.get(1);
            assertThat(s.items()).containsExactly(10, 12, 11);
            assertThat(s.times()).containsExactly(100, 200, 300);
            long version = s.version();
            // a replayed batch is all duplicates: nothing changes, not even the version
            assertThat(store.append(List.of(ev(1, 12, 200), ev(1, 11, 300)))).isZero();
            assertThat(store.version(1)).isEqualTo(version);
            // same time, other item: kept, events of one time in fingerprint order (whatever their arrival)
            store.append(List.of(ev(1, 13, 200)));
            long[] at200 = Long.compareUnsigned(BoundedSequence.fingerprint(ev(1, 12, 200)), BoundedSequence.fingerprint(ev(1, 13, 200))) < 0
                    ? new long[] {12, 13} : new long[] {13, 12};
            assertThat(store.get(1).items()).containsExactly(10, at200[0], at200[1], 11);
            assertThat(store.version(1)).isGreaterThan(version);
            // the bound drops the oldest; an event older than all kept by a full user is dropped
            store.append(List.of(ev(1, 14, 400), ev(1, 15, 500), ev(1, 9, 1)));
            assertThat(store.get(1).items()).containsExactly(at200[0], at200[1], 11, 14, 15);
            assertThat(store.get(2).items()).containsExactly(20);
            assertThat(store.get(3).length()).isZero();
            assertThat(store.length(1)).isEqualTo(5);
            assertThat(store.length(3)).isZero();
            assertThat(store.version(3)).isZero();
            assertThat(store.users()).isEqualTo(2);
            assertThat(store.events()).isEqualTo(6);
        }
    }

    @Test
    void aBadEventRejectsTheWholeBatch(@TempDir Path dir) throws Exception {
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 100, true)) {
            store.append(List.of(ev(1, 10, 100)));
            long logBytes = Files.size(dir.resolve(BehaviorSequenceStore.LOG_FILE));
            assertThatThrownBy(() -> store.append(List.of(ev(1, 11, 200), new BehaviorEvent(1, 12, 0, "pv", -5))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("event 1").hasMessageContaining("time");
            assertThatThrownBy(() -> store.append(List.of(new BehaviorEvent(1, 12, 0, " ", 5))))
                    .hasMessageContaining("action");
            assertThatThrownBy(() -> store.append(List.of(new BehaviorEvent(1, 12, 0, "x".repeat(65), 5))))
                    .hasMessageContaining("64 bytes");
            assertThat(store.get(1).items()).containsExactly(10);
            assertThat(Files.size(dir.resolve(BehaviorSequenceStore.LOG_FILE))).isEqualTo(logBytes);
        }
    }

    @Test
    void reopeningReplaysTheLogAndCutsATornTail(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        List<BehaviorEvent> events = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            events.add(new BehaviorEvent(rnd.nextInt(20), rnd.nextInt(1000), rnd.nextInt(30), i % 3 == 0 ? "buy" : "pv", rnd.nextInt(10_000)));
        }
        BehaviorSequence before;
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, false)) {
            store.append(events.subList(0, 250));
            store.append(events.subList(250, 500));
            before = store.get(7);
        }
        // a crash in the middle of a write leaves part of a record
        Files.write(dir.resolve(BehaviorSequenceStore.LOG_FILE), new byte[] {40, 0, 0, 0, 1, 2, 3}, StandardOpenOption.APPEND);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, false)) {
            BehaviorSequence after = store.get(7);
            assertThat(after.items()).containsExactly(before.items());
            assertThat(after.times()).containsExactly(before.times());
            assertThat(after.actions()).containsExactly(before.actions());
            assertThat(store.events()).isEqualTo(500 - duplicates(events));
            store.append(List.of(ev(7, 1, 20_000)));
        }
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, false)) {
            assertThat(store.get(7).length()).isEqualTo(before.length() + 1);
        }
    }

    @Test
    void aLogMostlyOfDroppedEventsIsRewrittenToTheLiveOnes(@TempDir Path dir) throws Exception {
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 10, false)) {
            for (int i = 0; i < 5000; i++) {
                store.append(List.of(ev(1, i, i)));
            }
        }
        long big = Files.size(dir.resolve(BehaviorSequenceStore.LOG_FILE));
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 10, false)) {
            assertThat(store.get(1).items()).containsExactly(4990, 4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999);
        }
        assertThat(Files.size(dir.resolve(BehaviorSequenceStore.LOG_FILE))).isLessThan(big / 100);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 10, false)) {
            assertThat(store.get(1).length()).isEqualTo(10);
        }
    }

    @Test
    void aFileThatIsNotABehaviourLogIsAnError(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve(BehaviorSequenceStore.LOG_FILE), "not a log");
        assertThatThrownBy(() -> BehaviorSequenceStore.open(dir, 10, false)).hasMessageContaining("not a behaviour log");
    }

    /** Appends batches until killed, printing the number of each acknowledged batch (run in a child JVM below). */
    public static void main(String[] args) throws Exception {
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(Path.of(args[0]), 1_000_000, Boolean.parseBoolean(args[1]))) {
            for (int b = 0; ; b++) {
                List<BehaviorEvent> batch = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    batch.add(ev(b % 3, b * 10L + i, b * 10L + i));
                }
                store.append(batch);
                System.out.println(b);
                System.out.flush();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void acknowledgedBatchesSurviveKillMinus9(boolean fsync, @TempDir Path dir) throws Exception {
        int acknowledged = KilledWriter.run(BehaviorSequenceStoreTest.class, 200, dir.toString(), Boolean.toString(fsync));
        assertThat(acknowledged).isGreaterThanOrEqualTo(200);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1_000_000, fsync)) {
            for (int b = 0; b <= acknowledged; b++) {
                BehaviorSequence s = store.get(b % 3);
                int at = Arrays.binarySearch(s.times(), b * 10L);
                assertThat(at).as("batch %d", b).isGreaterThanOrEqualTo(0);
                for (int i = 0; i < 10; i++) {
                    assertThat(s.items()[at + i]).isEqualTo(b * 10L + i);
                }
            }
        }
    }

    private static int duplicates(List<BehaviorEvent> events) {
        Set<BehaviorEvent> seen = new HashSet<>();
        int d = 0;
        for (BehaviorEvent e : events) {
            d += seen.add(e) ? 0 : 1;
        }
        return d;
    }
}
