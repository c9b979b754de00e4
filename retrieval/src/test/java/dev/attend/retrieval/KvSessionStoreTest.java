package dev.attend.retrieval;

import dev.attend.index.store.KilledWriter;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.Arrays;
import org.assertj.core.data.Offset;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class KvSessionStoreTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("KvSessionStoreTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    static final int DIM = 8;
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    static KvSessionConfig config() {
        return new KvSessionConfig(1, 2, 1, DIM, 4, 16, 20, 0.35f, new AttentionAwareIndex.Params(16, 30, 4, 32, 4), Precision.FLOAT32,
                KvSessionConfig.Retriever.ATTENTION_AWARE, false, HeadPolicies.defaults());
    }

    static float[] row(SplittableRandom rnd) {
        float[] r = new float[DIM];
        for (int c = 0; c < DIM; c++) {
            r[c] = (float) rnd.nextGaussian();
        }
        return r;
    }

    static float[][] rows(SplittableRandom rnd, int n) {
        float[][] out = new float[n][];
        for (int i = 0; i < n; i++) {
            out[i] = row(rnd);
        }
        return out;
    }

    @Test
    void sessionsComeBackAfterARestartWithEveryToken(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        float[] q = row(rnd);
        AttendResult before;
        try (KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC)) {
            KvSession s = store.create("a", config());
            s.prefill(0, 1, 0, rows(rnd, 100), rows(rnd, 100), rows(rnd, 40));
            for (int i = 100; i < 130; i++) {
                s.append(0, 1, i, row(rnd), row(rnd));
            }
            assertThatThrownBy(() -> s.append(0, 1, 7, row(rnd), row(rnd))).hasMessageContaining("out of order");
            before = s.attendExact(0, 1, q);
            assertThatThrownBy(() -> store.create("a", config())).hasMessageContaining("exists");
        }
        try (KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC)) {
            KvSession s = store.get("a");
            assertThat(s).isNotNull();
            assertThat(s.length(0, 1)).isEqualTo(130);
            assertThat(s.length(0, 0)).isZero();
            // The same keys and values: the same attention (up to the scorer's summation order across threads).
            assertThat(s.attendExact(0, 1, q).output()).containsExactly(before.output(), Offset.offset(1e-5f));
            assertThat(s.indexState(0, 1).state()).isEqualTo("ready");
            assertThat(s.indexState(0, 1).indexedUpTo()).isEqualTo(130 - 16);
            s.append(0, 1, 130, row(rnd), row(rnd));
            assertThat(store.delete("a")).isTrue();
            assertThat(Files.exists(dir.resolve("a"))).isFalse();
        }
    }

    @Test
    void chunkedPrefillWithAttributedQueriesReplaysIntoOneBuildPerIndex(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 6);
        KvSessionConfig perHead = new KvSessionConfig(1, 1, 2, DIM, 4, 16, 20, 0.35f, new AttentionAwareIndex.Params(16, 30, 4, 32, 4),
                Precision.FLOAT32, KvSessionConfig.Retriever.ATTENTION_AWARE, true, HeadPolicies.defaults());
        KvSession.IndexState before;
        float[] q = row(rnd);
        AttendResult answer;
        try (KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.PROCESS)) {
            KvSession s = store.create("c", perHead);
            s.prefill(0, 0, 0, rows(rnd, 100), rows(rnd, 100), rows(rnd, 30), new int[30], true); // all for query head 0
            int[] ones = new int[30];
            Arrays.fill(ones, 1);
            s.prefill(0, 0, 100, rows(rnd, 100), rows(rnd, 100), rows(rnd, 30), ones, false);
            before = s.indexState(0, 0);
            answer = s.attend(0, 1, q, 20, 1000);
        }
        try (KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.PROCESS)) {
            KvSession s = store.get("c");
            assertThat(s.config().indexPerQueryHead()).isTrue();
            KvSession.IndexState after = s.indexState(0, 0);
            assertThat(after.state()).isEqualTo("ready");
            assertThat(after.indexedKeys()).isEqualTo(before.indexedKeys()).isEqualTo(200 - 4 - 16);
            // The same keys and the same queries per head: the same graphs, the same answer.
            assertThat(after.indexBytes()).isEqualTo(before.indexBytes());
            assertThat(s.attend(0, 1, q, 20, 1000).output()).containsExactly(answer.output(), Offset.offset(1e-5f));
        }
    }

    @Test
    void aTornRecordAtTheEndIsDropped(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        try (KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC)) {
            KvSession s = store.create("t", config());
            for (int i = 0; i < 10; i++) {
                s.append(0, 0, i, row(rnd), row(rnd));
            }
        }
        // Half a record: a crash in the middle of an unacknowledged write.
        Files.write(dir.resolve("t/journal.log"), new byte[] {0, 0, 0, 99, 2, 0, 0}, StandardOpenOption.APPEND);
        try (KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC)) {
            KvSession s = store.get("t");
            assertThat(s.length(0, 0)).isEqualTo(10);
            s.append(0, 0, 10, row(rnd), row(rnd));
        }
        try (KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC)) {
            assertThat(store.get("t").length(0, 0)).isEqualTo(11);
        }
    }

    /** Appends until killed, printing each acknowledged position (run in a child JVM by the test below). */
    public static void main(String[] args) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        try (Scorer s = Scorers.create("simd"); KvSessionStore store = new KvSessionStore(Path.of(args[0]), s, Runnable::run, Runnable::run,
                KvDurability.of(args[1]))) {
            KvSession session = store.create("k", config());
            for (int i = 0; ; i++) {
                session.append(0, 0, i, row(rnd), row(rnd));
                System.out.println(i);
                System.out.flush();
            }
        }
    }

    /** Both durabilities keep every acknowledged write through a crash of the process. */
    @ParameterizedTest
    @EnumSource(KvDurability.class)
    void acknowledgedAppendsSurviveKillMinus9(KvDurability durability, @TempDir Path dir) throws Exception {
        int acknowledged = KilledWriter.run(KvSessionStoreTest.class, 300, dir.toString(), durability.wireName());
        assertThat(acknowledged).isGreaterThanOrEqualTo(300);
        try (KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC)) {
            int length = store.get("k").length(0, 0);
            System.out.printf("kill -9 after %d acknowledged appends (%s): %d restored%n", acknowledged + 1, durability, length);
            assertThat(length).isGreaterThanOrEqualTo(acknowledged + 1);
        }
    }
}
