package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link KvSession#decodeLayer}: the same answers as an append per KV head and an attend per query head; bad input changes nothing. */
class KvSessionDecodeLayerTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("KvSessionDecodeLayerTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    private static final int DIM = 16;
    /** Builds and insertions on the calling thread: two sessions fed the same tokens hold the same indexes at every step. */
    private static final Executor NOW = Runnable::run;
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    /** 2 layers, 2 KV heads, 3 query heads per KV head (6 per layer). */
    private static KvSessionConfig config(HeadPolicies policies) {
        return new KvSessionConfig(2, 2, 3, DIM, 4, 16, 8, (float) (2 / Math.sqrt(DIM)),
                new AttentionAwareIndex.Params(16, 40, 8, 32, 4), Precision.FLOAT32,
                KvSessionConfig.Retriever.ATTENTION_AWARE, false, policies);
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        float[][] out = new float[n][DIM];
        for (float[] row : out) {
            for (int c = 0; c < DIM; c++) {
                row[c] = (float) rnd.nextGaussian();
            }
        }
        return out;
    }

    private static void prefill(KvSession s, int layer, int tokens, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int h = 0; h < s.config().kvHeads(); h++) {
            s.prefill(layer, h, 0, rows(rnd, tokens), rows(rnd, tokens), rows(rnd, 3 * tokens / 4));
        }
    }

    /**
     * The same keys, the same answer: outputs to float rounding (a full head's scan splits over the scorer's threads as
     * they come free, so its sums may round differently when answered beside other heads), the rest exactly.
     */
    private static void assertSame(AttendResult got, AttendResult expected) {
        assertThat(got.output()).containsExactly(expected.output(), Offset.offset(1e-5f));
        assertThat(got.logSumExp()).isCloseTo(expected.logSumExp(), Offset.offset(1e-5));
        assertThat(got.retrieved()).containsExactly(expected.retrieved());
        assertThat(got.stats().mode()).isEqualTo(expected.stats().mode());
        assertThat(got.stats().keysScanned()).isEqualTo(expected.stats().keysScanned());
        assertThat(got.stats().staticKeys()).isEqualTo(expected.stats().staticKeys());
        assertThat(got.stats().retrievedKeys()).isEqualTo(expected.stats().retrievedKeys());
    }

    private static void matchesPerHeadSteps(HeadPolicies policies, int budget) {
        int layer = 1;
        int tokens = 400;
        try (KvSession perHead = new KvSession("per-head", config(policies), scorer, NOW);
             KvSession batched = new KvSession("batched", config(policies), scorer, NOW)) {
            prefill(perHead, layer, tokens, 3);
            prefill(batched, layer, tokens, 3);
            SplittableRandom rnd = new SplittableRandom(SEED + 8);
            int kvHeads = batched.config().kvHeads();
            int queryHeads = batched.config().queryHeads();
            for (int step = 0; step < 40; step++) {
                int position = tokens + step;
                float[][] keys = rows(rnd, kvHeads);
                float[][] values = rows(rnd, kvHeads);
                float[][] queries = rows(rnd, queryHeads);
                AttendResult[] expected = new AttendResult[queryHeads];
                for (int h = 0; h < kvHeads; h++) {
                    perHead.append(layer, h, position, keys[h], values[h]);
                    for (int q = h * 3; q < (h + 1) * 3; q++) {
                        int b = budget == KvSession.DEFAULT_BUDGET ? KvSessionConfig.defaultBudget(position + 1, 8) : budget;
                        expected[q] = perHead.attend(layer, q, queries[q], b);
                    }
                }
                AttendResult[] got = batched.decodeLayer(layer, position, keys, values, queries, budget);
                assertThat(got).hasSize(queryHeads);
                for (int q = 0; q < queryHeads; q++) {
                    assertSame(got[q], expected[q]);
                    assertThat(got[q].stats().mode()).isNotEqualTo("flat"); // through the index or the head's policy
                }
                for (int h = 0; h < kvHeads; h++) {
                    assertThat(batched.length(layer, h)).isEqualTo(position + 1);
                }
            }
            // The queries were recorded as the per-head attends record them.
            List<KvSession.HeadQuery> a = perHead.recentQueries(layer);
            List<KvSession.HeadQuery> b = batched.recentQueries(layer);
            assertThat(b).hasSameSizeAs(a);
            for (int i = 0; i < a.size(); i++) {
                assertThat(b.get(i).queryHead()).isEqualTo(a.get(i).queryHead());
                assertThat(b.get(i).query()).containsExactly(a.get(i).query());
            }
        }
    }

    @Test
    void aLayerStepAnswersAsAnAppendPerKvHeadAndAnAttendPerQueryHead() {
        matchesPerHeadSteps(HeadPolicies.defaults(), 60);
    }

    @Test
    void theDefaultBudgetFollowsEachHeadsLength() {
        matchesPerHeadSteps(HeadPolicies.defaults(), KvSession.DEFAULT_BUDGET);
    }

    @Test
    void headsUnderOtherPoliciesAnswerAsTheirOwnSteps() {
        matchesPerHeadSteps(new HeadPolicies("retrieval", Map.of("1/0", "streaming", "1/1", "full")), 60);
    }

    /** Layers of several sessions answered at once share the common pool's helpers: each still answers as its own steps. */
    @Test
    void sessionsDecodingAtOnceAnswerAsTheirOwnSteps() throws Exception {
        int callers = 4;
        try (ExecutorService pool = Executors.newFixedThreadPool(callers)) {
            List<Future<?>> runs = new ArrayList<>();
            for (int i = 0; i < callers; i++) {
                runs.add(pool.submit(() -> matchesPerHeadSteps(HeadPolicies.defaults(), 60)));
            }
            for (Future<?> f : runs) {
                f.get(); // rethrows a caller's failed assertion
            }
        }
    }

    @Test
    void badInputIsRefusedBeforeAnyHeadChanges() {
        try (KvSession s = new KvSession("bad", config(HeadPolicies.defaults()), scorer, NOW)) {
            prefill(s, 0, 100, 5);
            SplittableRandom rnd = new SplittableRandom(SEED + 9);
            float[][] keys = rows(rnd, 2);
            float[][] values = rows(rnd, 2);
            float[][] queries = rows(rnd, 6);
            long charged = s.chargedBytes();
            float[][] nanQuery = rows(rnd, 6);
            nanQuery[5][3] = Float.NaN;
            float[][] infValue = rows(rnd, 2);
            infValue[1][0] = Float.POSITIVE_INFINITY;
            float[][] shortKey = {keys[0], new float[DIM - 1]};
            float[][] hugeKey = rows(rnd, 2);
            hugeKey[1][0] = 1e7f;
            List<Runnable> bad = List.of(
                    () -> s.decodeLayer(0, 100, new float[][] {keys[0]}, values, queries, 10), // one key short
                    () -> s.decodeLayer(0, 100, keys, values, Arrays.copyOf(queries, 5), 10),
                    () -> s.decodeLayer(0, 100, keys, values, nanQuery, 10),
                    () -> s.decodeLayer(0, 100, keys, infValue, queries, 10),
                    () -> s.decodeLayer(0, 100, shortKey, values, queries, 10),
                    () -> s.decodeLayer(0, 100, hugeKey, values, queries, 10),
                    () -> s.decodeLayer(0, 100, keys, new float[][] {values[0], null}, queries, 10),
                    () -> s.decodeLayer(0, 100, keys, values, queries, -1),
                    () -> s.decodeLayer(0, 99, keys, values, queries, 10), // behind both heads
                    () -> s.decodeLayer(0, 101, keys, values, queries, 10), // ahead of both
                    () -> s.decodeLayer(2, 100, keys, values, queries, 10));
            for (Runnable r : bad) {
                assertThatThrownBy(r::run).isInstanceOf(IllegalArgumentException.class);
                assertThat(s.length(0, 0)).isEqualTo(100);
                assertThat(s.length(0, 1)).isEqualTo(100);
                assertThat(s.chargedBytes()).isEqualTo(charged);
            }
            // One head ahead of the other: its position is out of order, and neither head takes the token.
            s.append(0, 1, 100, keys[1], values[1]);
            long afterOne = s.chargedBytes();
            assertThatThrownBy(() -> s.decodeLayer(0, 100, keys, values, queries, 10))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("KV head 1");
            assertThatThrownBy(() -> s.decodeLayer(0, 101, keys, values, queries, 10))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("KV head 0");
            assertThat(s.length(0, 0)).isEqualTo(100);
            assertThat(s.length(0, 1)).isEqualTo(101);
            assertThat(s.chargedBytes()).isEqualTo(afterOne);
            assertThat(s.recentQueries(0)).isEmpty();
            s.append(0, 0, 100, keys[0], values[0]);
            assertThat(s.decodeLayer(0, 101, keys, values, queries, 10)).hasSize(6);
            assertThat(s.length(0, 0)).isEqualTo(102);
            assertThat(s.length(0, 1)).isEqualTo(102);
        }
    }

    @Test
    void aLimitOnTheSecondHeadTakesNothingFromTheFirst() {
        KvSessionConfig config = config(HeadPolicies.defaults());
        // Room for the first KV head's first token, not for the second's.
        long room = KvSessionLimits.fixedBytes(config) + KvSessionLimits.HEAD_OVERHEAD_BYTES + KvSessionLimits.tokenBytes(config);
        try (KvSession s = new KvSession("limit", config, scorer, NOW, NOW, KvSessionLimits.shapeOnly().withBytes(room, Long.MAX_VALUE))) {
            SplittableRandom rnd = new SplittableRandom(SEED + 10);
            long charged = s.chargedBytes();
            assertThatThrownBy(() -> s.decodeLayer(0, 0, rows(rnd, 2), rows(rnd, 2), rows(rnd, 6), 10))
                    .isInstanceOf(KvLimitException.class);
            assertThat(s.length(0, 0)).isZero();
            assertThat(s.length(0, 1)).isZero();
            assertThat(s.chargedBytes()).isEqualTo(charged);
            s.append(0, 0, 0, rows(rnd, 1)[0], rows(rnd, 1)[0]); // the room was given back
            assertThat(s.length(0, 0)).isEqualTo(1);
        }
    }

    @Test
    void aHeadWithoutTokensBeforeTheStepAnswersOverItsOneToken() {
        try (KvSession s = new KvSession("first", config(HeadPolicies.defaults()), scorer, NOW)) {
            SplittableRandom rnd = new SplittableRandom(SEED + 12);
            float[][] values = rows(rnd, 2);
            AttendResult[] r = s.decodeLayer(0, 0, rows(rnd, 2), values, rows(rnd, 6), KvSession.DEFAULT_BUDGET);
            for (int q = 0; q < 6; q++) {
                assertThat(r[q].output()).containsExactly(values[q / 3]); // one key: all its weight on its value
                assertThat(r[q].stats().mode()).isEqualTo("flat");
            }
        }
    }
}
