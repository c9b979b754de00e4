package dev.attend.retrieval.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.policy.AttentionAccuracy;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The head policies against exact attention, on random heads with a reproducible seed. */
class PolicyHeadTest {

    private static final long SEED = Long.getLong("attend.test.seed", 21L);
    private static final int DIM = 16;
    private static final float SCALE = (float) (2 / Math.sqrt(DIM));
    private static final AttentionAwareIndex.Params PARAMS = new AttentionAwareIndex.Params(16, 40, 8, 32, 4);
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        float[][] out = new float[n][DIM];
        for (float[] r : out) {
            for (int c = 0; c < DIM; c++) {
                r[c] = (float) rnd.nextGaussian();
            }
        }
        return out;
    }

    /** Every policy, given every key (a window over all, k and budget over all, recycling only an identical query), is exact. */
    @Test
    void everyPolicyEqualsExactAttentionWhenItIsGivenEveryKey() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int n = 600;
        float[][] keys = rows(rnd, n + 50);
        float[][] values = rows(rnd, n + 50);
        float[][] prefillKeys = Arrays.copyOf(keys, n);
        float[][] prefillValues = Arrays.copyOf(values, n);
        float[][] queries = rows(rnd, 200);
        HeadPolicy[] policies = {new HeadPolicy.Full(), new HeadPolicy.Streaming(4, 10_000), new HeadPolicy.Retrieval(4, 16, 10_000),
                new HeadPolicy.Recycled(4, 16, 10_000, 1.0), new HeadPolicy.Block(4, 16, 8, 10_000)};
        PolicyHead[] heads = new PolicyHead[policies.length];
        for (int p = 0; p < policies.length; p++) {
            heads[p] = PolicyHead.open(policies[p], prefillKeys, prefillValues, queries, SCALE, scorer, PARAMS);
        }
        for (int step = 0; step < 50; step++) {
            float[] q = rows(rnd, 1)[0];
            PolicyAnswer want = heads[0].attend(q, Integer.MAX_VALUE);
            for (int p = 1; p < heads.length; p++) {
                PolicyAnswer got = heads[p].attend(q, Integer.MAX_VALUE);
                assertThat(AttentionAccuracy.relativeError(got.output(), want.output())).as("%s at step %d", policies[p], step).isLessThan(1e-5);
                assertThat(got.logSumExp()).isCloseTo(want.logSumExp(), Offset.offset(1e-4));
            }
            // the same query again: a recycled head with threshold 1.0 reuses its selection, still exactly
            PolicyAnswer again = heads[3].attend(q, Integer.MAX_VALUE);
            assertThat(again.searched()).isFalse();
            assertThat(AttentionAccuracy.relativeError(again.output(), want.output())).isLessThan(1e-5);
            for (PolicyHead h : heads) {
                h.append(keys[n + step], values[n + step]);
            }
        }
        assertThat(heads[3].searches()).isEqualTo(50);
        assertThat(heads[3].reuses()).isEqualTo(50);
        assertThat(heads[2].tokens()).isEqualTo(n + 50);
    }

    /**
     * A tail of one key per cluster is exact whatever k retrieves; with fewer clusters than keys it still estimates
     * what a small k misses: on a diffuse head its error is well under retrieval's alone.
     */
    @Test
    void aTailWithOneKeyPerClusterIsExactAndFewerClustersEstimateTheRest() {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        int n = 800;
        float[][] keys = rows(rnd, n);
        float[][] values = rows(rnd, n);
        float[][] prefillQueries = rows(rnd, 200);
        float diffuse = (float) (0.5 / Math.sqrt(DIM));
        PolicyHead full = PolicyHead.open(new HeadPolicy.Full(), keys, values, prefillQueries, diffuse, scorer, PARAMS);
        PolicyHead oneEach = PolicyHead.open(new HeadPolicy.RetrievalTail(4, 16, 5, n - 20), keys, values, prefillQueries, diffuse, scorer,
                PARAMS);
        PolicyHead tail = PolicyHead.open(new HeadPolicy.RetrievalTail(4, 16, 5, 0), keys, values, prefillQueries, diffuse, scorer, PARAMS);
        PolicyHead plain = PolicyHead.open(new HeadPolicy.Retrieval(4, 16, 5), keys, values, prefillQueries, diffuse, scorer, PARAMS);
        double withTail = 0;
        double without = 0;
        for (float[] q : rows(rnd, 30)) {
            PolicyAnswer want = full.attend(q, 1000);
            assertThat(AttentionAccuracy.relativeError(oneEach.attend(q, 1000).output(), want.output())).isLessThan(1e-4);
            withTail += AttentionAccuracy.relativeError(tail.attend(q, 1000).output(), want.output());
            without += AttentionAccuracy.relativeError(plain.attend(q, 1000).output(), want.output());
        }
        System.out.printf("diffuse head, top-5: mean relative error %.3f with a tail of %d clusters, %.3f without%n", withTail / 30,
                (int) Math.round(Math.sqrt(n - 20)), without / 30);
        assertThat(withTail).isLessThan(0.5 * without);
        assertThat(tail.indexBytes()).isGreaterThan(plain.indexBytes());
    }

    /** A streaming head keeps sinks + window whatever the length, and answers from them alone. */
    @Test
    void aStreamingHeadDropsWhatLeavesTheWindow() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        int sinks = 4;
        int window = 64;
        float[][] keys = rows(rnd, 3000);
        float[][] values = rows(rnd, 3000);
        PolicyHead streaming = PolicyHead.open(new HeadPolicy.Streaming(sinks, window), Arrays.copyOf(keys, 1000),
                Arrays.copyOf(values, 1000), new float[0][], SCALE, scorer, PARAMS);
        PolicyHead full = PolicyHead.open(new HeadPolicy.Full(), Arrays.copyOf(keys, 1000), Arrays.copyOf(values, 1000),
                new float[0][], SCALE, scorer, PARAMS);
        for (int t = 1000; t < 3000; t++) {
            streaming.append(keys[t], values[t]);
            full.append(keys[t], values[t]);
        }
        long rowBytes = 2L * DIM * Float.BYTES;
        assertThat(streaming.kvBytes()).isLessThanOrEqualTo((long) ((sinks + 1.25 * window + 1) * rowBytes) * 2); // a store's last page may be twice its rows
        assertThat(full.kvBytes()).isGreaterThanOrEqualTo(3000 * rowBytes);
        // its answer is exact attention over the sinks and the window
        float[] q = rows(rnd, 1)[0];
        float[][] kept = new float[sinks + window][];
        float[][] keptValues = new float[sinks + window][];
        for (int i = 0; i < sinks; i++) {
            kept[i] = keys[i];
            keptValues[i] = values[i];
        }
        for (int i = 0; i < window; i++) {
            kept[sinks + i] = keys[3000 - window + i];
            keptValues[sinks + i] = values[3000 - window + i];
        }
        PolicyAnswer want = PolicyHead.open(new HeadPolicy.Full(), kept, keptValues, new float[0][], SCALE, scorer, PARAMS).attend(q, 1);
        PolicyAnswer got = streaming.attend(q, 1);
        assertThat(AttentionAccuracy.relativeError(got.output(), want.output())).isLessThan(1e-5);
        assertThat(got.keysScanned()).isEqualTo(sinks + window);
    }

    /**
     * Recycling reuses the last search's keys while queries stay close (cosine at or above the threshold) and
     * searches again when they turn; with a threshold above 1 it never reuses.
     */
    @Test
    void recyclingReusesASelectionWhileQueriesStayClose() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        float[][] keys = rows(rnd, 2000);
        float[][] values = rows(rnd, 2000);
        PolicyHead recycled = PolicyHead.open(new HeadPolicy.Recycled(4, 32, 50, 0.95), keys, values, rows(rnd, 500), SCALE, scorer, PARAMS);
        float[] base = rows(rnd, 1)[0];
        for (int step = 0; step < 10; step++) {
            float[] q = base.clone();
            q[0] += 0.01f * step; // cosine with base stays above 0.99
            recycled.attend(q, 500);
        }
        assertThat(recycled.searches()).isEqualTo(1);
        assertThat(recycled.reuses()).isEqualTo(9);
        float[] turned = new float[DIM];
        for (int c = 0; c < DIM; c++) {
            turned[c] = -base[c];
        }
        assertThat(recycled.attend(turned, 500).searched()).isTrue();
        assertThat(recycled.searches()).isEqualTo(2);
    }

    /**
     * A reused selection follows the tokens after its keys: a head whose attention moves one token forward per step (a
     * copying, induction-like head) keeps finding its key from one search, long after that key left the first pool.
     */
    @Test
    void aReusedPoolFollowsTheTokensAfterItsKeys() {
        int n = 600;
        float[][] keys = new float[n][DIM];
        float[][] values = rows(new SplittableRandom(SEED + 4), n);
        for (int t = 0; t < n; t++) { // position as an angle: a query aimed at an angle scores that position best
            keys[t][0] = (float) Math.cos(t * 0.01);
            keys[t][1] = (float) Math.sin(t * 0.01);
        }
        float[][] queries = new float[40][DIM];
        for (int s = 0; s < queries.length; s++) {
            queries[s][0] = (float) (100 * Math.cos((100 + s) * 0.01));
            queries[s][1] = (float) (100 * Math.sin((100 + s) * 0.01));
        }
        PolicyHead head = PolicyHead.open(new HeadPolicy.Recycled(0, 8, 1, 0.0), keys, values, queries, SCALE, scorer, PARAMS);
        for (int s = 0; s < queries.length; s++) {
            assertThat(head.attend(queries[s], 1000).selected()).as("step " + s).containsExactly(100 + s);
        }
        assertThat(head.searches()).isEqualTo(1);
        assertThat(head.reuses()).isEqualTo(queries.length - 1);
    }

    /** A reused selection also weighs the keys indexed after its search, which a search now would see. */
    @Test
    void aReusedPoolTakesTheKeysIndexedSinceItsSearch() {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        float[][] keys = rows(rnd, 200);
        float[][] values = rows(rnd, 200);
        float[] q = rows(rnd, 1)[0];
        PolicyHead head = PolicyHead.open(new HeadPolicy.Recycled(0, 4, 1, 0.0), keys, values, rows(rnd, 50), SCALE, scorer, PARAMS);
        head.attend(q, 1000); // the search
        float[] best = new float[DIM];
        for (int c = 0; c < DIM; c++) {
            best[c] = 10 * q[c]; // scores above every other key
        }
        head.append(best, rows(rnd, 1)[0]); // position 200: in the window for 4 steps, then indexed
        for (int i = 0; i < 4; i++) {
            head.append(rows(rnd, 1)[0], rows(rnd, 1)[0]);
        }
        PolicyAnswer a = head.attend(q, 1000);
        assertThat(a.searched()).isFalse();
        assertThat(a.selected()).containsExactly(200);
        assertThat(head.searches()).isEqualTo(1);
    }

    /**
     * A calibrated threshold follows the head: where the prefill's last queries keep one direction, reusing always
     * costs nothing and the head reuses whatever comes; where they turn at every token, only close queries reuse.
     */
    @Test
    void aCalibratedThresholdReusesFreelyOnASteadyHeadAndLittleOnATurningOne() {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        float[][] keys = rows(rnd, 3000);
        float[][] values = rows(rnd, 3000);
        float[][] turning = rows(rnd, 400);
        float[][] steady = rows(rnd, 400);
        for (int i = 0; i < 400; i++) {
            for (int c = 0; c < DIM; c++) {
                turning[i][c] *= 3; // sharp: which keys are chosen matters
                steady[i][c] = 3 * steady[0][c] + 0.01f * (float) rnd.nextGaussian();
            }
        }
        HeadPolicy auto = HeadPolicy.parse("recycled:auto", 4, 32, 50);
        assertThat(auto.spec()).isEqualTo("recycled:auto");
        PolicyHead steadyHead = PolicyHead.open(auto, keys, values, steady, SCALE, scorer, PARAMS);
        PolicyHead turningHead = PolicyHead.open(auto, keys, values, turning, SCALE, scorer, PARAMS);
        System.out.printf("calibrated recycling thresholds: steady head %.2f, turning head %.2f%n", steadyHead.recycleThreshold(),
                turningHead.recycleThreshold());
        assertThat(steadyHead.recycleThreshold()).isEqualTo(-1.0);
        assertThat(turningHead.recycleThreshold()).isGreaterThanOrEqualTo(0.1);
        // the same prefill calibrates the same way
        assertThat(PolicyHead.open(auto, keys, values, turning, SCALE, scorer, PARAMS).recycleThreshold())
                .isEqualTo(turningHead.recycleThreshold());
        assertThat(PolicyHead.open(new HeadPolicy.Retrieval(4, 32, 50), keys, values, turning, SCALE, scorer, PARAMS).recycleThreshold()).isNaN();
    }

    @Test
    void badPolicyNamesAndParametersGetClearErrors() {
        assertThat(HeadPolicy.parse(" Recycled:0.8 ", 4, 64, 100)).isEqualTo(new HeadPolicy.Recycled(4, 64, 100, 0.8));
        assertThat(HeadPolicy.parse("recycled", 4, 64, 100)).isEqualTo(new HeadPolicy.Recycled(4, 64, 100, HeadPolicy.DEFAULT_RECYCLE_THRESHOLD));
        assertThat(HeadPolicy.parse("recycled+tail:0.5", 4, 64, 100)).isEqualTo(new HeadPolicy.Recycled(4, 64, 100, 0.5, true));
        assertThat(HeadPolicy.parse("recycled+tail:0.5", 4, 64, 100).spec()).isEqualTo("recycled+tail:0.5");
        assertThat(HeadPolicy.parse("streaming", 4, 64, 100)).isEqualTo(new HeadPolicy.Streaming(4, 64));
        assertThatThrownBy(() -> HeadPolicy.parse("sliding", 4, 64, 100)).hasMessageContaining("unknown head policy 'sliding'")
                .hasMessageContaining("streaming");
        assertThatThrownBy(() -> HeadPolicy.parse("recycled:high", 4, 64, 100)).hasMessageContaining("must be a number");
        assertThatThrownBy(() -> HeadPolicy.parse("recycled:1.5", 4, 64, 100)).hasMessageContaining("cosine in [-1, 1]");
        assertThatThrownBy(() -> HeadPolicy.parse("retrieval", 4, 64, 0)).hasMessageContaining("k must be >= 1");
        assertThatThrownBy(() -> new HeadPolicy.Streaming(0, 0)).hasMessageContaining("sinks + window");
        assertThatThrownBy(() -> new HeadPolicy.Streaming(-1, 8)).hasMessageContaining(">= 0");
        assertThat(HeadPolicy.parse("block", 4, 64, 100)).isEqualTo(new HeadPolicy.Block(4, 64, HeadPolicy.DEFAULT_BLOCK_SIZE, 7));
        assertThat(HeadPolicy.parse("block:32", 4, 64, 100)).isEqualTo(new HeadPolicy.Block(4, 64, 32, 4));
        assertThat(HeadPolicy.parse("retrieval+tail:50", 4, 64, 100)).isEqualTo(new HeadPolicy.RetrievalTail(4, 64, 100, 50));
        assertThatThrownBy(() -> HeadPolicy.parse("block:0", 4, 64, 100)).hasMessageContaining("blockSize and blocks must be >= 1");
        assertThatThrownBy(() -> HeadPolicy.parse("retrieval+tail:some", 4, 64, 100)).hasMessageContaining("whole number");
        assertThatThrownBy(() -> HeadPolicy.parse("retrieval+tail:-3", 4, 64, 100)).hasMessageContaining("clusters must be >= 0");
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        PolicyHead full = PolicyHead.open(new HeadPolicy.Full(), rows(rnd, 10), rows(rnd, 10), new float[0][], SCALE, scorer, PARAMS);
        assertThatThrownBy(() -> full.attend(new float[DIM + 1], 10)).isInstanceOf(IllegalArgumentException.class);
        float[] nan = new float[DIM];
        nan[3] = Float.NaN;
        assertThatThrownBy(() -> full.append(nan, new float[DIM])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> full.attend(new float[DIM], 0)).hasMessageContaining("budget");
        assertThat(full.tokens()).isEqualTo(10); // nothing taken by the bad calls
    }
}
