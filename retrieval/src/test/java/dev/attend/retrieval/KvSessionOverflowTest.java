package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Finite but huge vectors (issue 20): refused before anything changes, and no answer is ever NaN or infinite. */
class KvSessionOverflowTest {

    private static final long SEED = Long.getLong("attend.test.seed", 21L);
    private static final int DIM = 8;
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        System.out.println("KvSessionOverflowTest seed " + SEED);
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static KvSessionConfig config(Precision storage) {
        return new KvSessionConfig(1, 1, 1, DIM, 4, 16, 20, 0.35f, new AttentionAwareIndex.Params(16, 30, 4, 32, 4), storage,
                KvSessionConfig.Retriever.ATTENTION_AWARE, false, HeadPolicies.defaults());
    }

    private static float[] filled(float x) {
        float[] v = new float[DIM];
        Arrays.fill(v, x);
        return v;
    }

    @Test
    void float32MaxKeysValuesAndQueriesAreRefusedBeforeAnythingChanges() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        try (KvSession s = new KvSession("o", config(Precision.FLOAT32), scorer, Runnable::run)) {
            s.append(0, 0, 0, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            float[] huge = filled(3.4e38f);
            assertThatThrownBy(() -> s.append(0, 0, 1, huge, KvSessionStoreTest.row(rnd))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("key");
            assertThatThrownBy(() -> s.append(0, 0, 1, KvSessionStoreTest.row(rnd), huge)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("value");
            assertThatThrownBy(() -> s.prefill(0, 0, 1, new float[][] {huge}, new float[][] {huge}, new float[0][]))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> s.prefill(0, 0, 1, new float[][] {KvSessionStoreTest.row(rnd)},
                    new float[][] {KvSessionStoreTest.row(rnd)}, new float[][] {huge})).isInstanceOf(IllegalArgumentException.class);
            assertThat(s.length(0, 0)).isEqualTo(1);
            assertThatThrownBy(() -> s.attend(0, 0, huge, 100)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("query");
            assertThatThrownBy(() -> s.attendExact(0, 0, huge)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void theLargestAcceptedMagnitudesGiveFiniteAnswers() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        try (KvSession s = new KvSession("o", config(Precision.FLOAT32), scorer, Runnable::run)) {
            float edge = (float) (s.maxNorm() / Math.sqrt(DIM) * 0.999); // every component alike: norm just under the bound
            for (int i = 0; i < 64; i++) {
                float sign = rnd.nextBoolean() ? 1 : -1;
                s.append(0, 0, i, filled(sign * edge), filled((float) (-sign * KvSession.MAX_ABS_VALUE)));
            }
            assertThatThrownBy(() -> s.append(0, 0, 64, filled(edge * 1.01f), filled(1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("norm");
            assertThatThrownBy(() -> s.attend(0, 0, filled(edge * 1.01f), 100)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("norm");
            for (float x : new float[] {edge, -edge}) {
                for (AttendResult r : new AttendResult[] {s.attend(0, 0, filled(x), 1000), s.attendExact(0, 0, filled(x))}) {
                    assertThat(Double.isFinite(r.logSumExp())).as("log-sum-exp %s", r.logSumExp()).isTrue();
                    for (float o : r.output()) {
                        assertThat(Float.isFinite(o)).as("output %s", o).isTrue();
                    }
                }
            }
        }
    }

    @Test
    void normsAtTheBoundAreJudgedExactlyWhateverTheFastCheckSays() {
        // The fast check accepts squared norms below 0.999 of the bound; between that and the bound the exact check decides.
        try (KvSession s = new KvSession("b", config(Precision.FLOAT32), scorer, Runnable::run)) {
            double perComponent = s.maxNorm() / Math.sqrt(DIM);
            float inside = (float) (perComponent * 0.99999); // squared norm 0.99998 of the bound: past the fast check
            float outside = (float) (perComponent * 1.00001);
            s.append(0, 0, 0, filled(inside), filled(1));
            s.prefill(0, 0, 1, new float[][] {filled(-inside)}, new float[][] {filled(1)}, new float[][] {filled(inside)}, null, false);
            assertThat(s.length(0, 0)).isEqualTo(2);
            assertThatThrownBy(() -> s.prefill(0, 0, 2, new float[][] {filled(1), filled(outside)}, new float[][] {filled(1), filled(1)},
                    new float[0][], null, false)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key 1 has norm");
            assertThatThrownBy(() -> s.prefill(0, 0, 2, new float[][] {filled(1)}, new float[][] {filled(1)},
                    new float[][] {filled(1), filled(-outside)}, null, false)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("query 1 has norm");
            assertThat(s.length(0, 0)).isEqualTo(2);
            for (float o : s.attend(0, 0, filled(inside), 100).output()) {
                assertThat(Float.isFinite(o)).isTrue();
            }
        }
    }

    @Test
    void float16StorageRefusesWhatItCannotHold() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        try (KvSession s = new KvSession("h", config(Precision.FLOAT16), scorer, Runnable::run)) {
            assertThatThrownBy(() -> s.append(0, 0, 0, filled(70_000f), KvSessionStoreTest.row(rnd)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("float16");
            assertThat(s.length(0, 0)).isZero();
            assertThatThrownBy(() -> s.append(0, 0, 0, KvSessionStoreTest.row(rnd), filled(70_000f)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("float16");
            s.append(0, 0, 0, filled(1000f), filled(-60_000f));
            AttendResult r = s.attend(0, 0, filled(100f), 100);
            assertThat(Double.isFinite(r.logSumExp())).isTrue();
        }
    }

    @Test
    void anEmptyHeadAnswersZerosWithNoMass() {
        try (KvSession s = new KvSession("e", config(Precision.FLOAT32), scorer, Runnable::run)) {
            AttendResult r = s.attend(0, 0, filled(1), 100);
            assertThat(r.output()).containsOnly(0f);
            assertThat(r.logSumExp()).isEqualTo(Double.NEGATIVE_INFINITY);
            assertThat(r.stats().keysScanned()).isZero();
        }
    }
}
