package dev.attend.retrieval;

import dev.attend.retrieval.policy.AttentionAccuracy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.policy.HeadPolicy;
import dev.attend.retrieval.policy.PlantedHeads;
import dev.attend.retrieval.policy.PolicyHead;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.Arrays;

/** Head policies inside a KV session: configured per head or chosen from the prefill, persisted, with clear errors. */
class KvSessionPolicyTest {

    /** The randomized inputs' seed: {@code -Dattend.test.seed=N} (0 unless set) added to each literal seed. */
    private static final long SEED = Long.getLong("attend.test.seed", 0L);

    @BeforeAll
    static void printSeed() {
        System.out.println("KvSessionPolicyTest seed " + SEED);
    }


    private static final int DIM = 16;
    private static final int SINKS = 4;
    private static final int WINDOW = 64;
    private static final int N = 2000;
    private static Scorer scorer;
    /** Builds on the calling thread: a test sees the opened heads right after the prefill. */
    private static final Executor NOW = Runnable::run;

    @BeforeAll
    static void open() {
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static KvSessionConfig config(int kvHeads, int topK, HeadPolicies policies) {
        return new KvSessionConfig(1, kvHeads, 1, DIM, SINKS, WINDOW, topK, 1f, new AttentionAwareIndex.Params(16, 30, 4, 32, 4),
                Precision.FLOAT32, KvSessionConfig.Retriever.ATTENTION_AWARE, false, policies);
    }

    private static float[][] values(long seed, int n) {
        SplittableRandom rnd = new SplittableRandom(SEED + seed);
        float[][] v = new float[n][DIM];
        for (float[] row : v) {
            for (int c = 0; c < DIM; c++) {
                row[c] = (float) rnd.nextGaussian();
            }
        }
        return v;
    }

    private static double relativeError(float[] got, float[] want) {
        return AttentionAccuracy.relativeError(got, want);
    }

    @Test
    void autoStreamsALocalHeadAndRetrievesAReachingOneTheSameWayEveryTime() {
        float[][][] local = PlantedHeads.head(1, true, N + 300, DIM);
        float[][][] reaching = PlantedHeads.head(2, false, N + 300, DIM);
        float[][] values = values(3, N + 300);
        KvSession.PolicyState[] first = new KvSession.PolicyState[2];
        for (int run = 0; run < 2; run++) {
            try (KvSession s = new KvSession("auto", config(2, 50, new HeadPolicies("auto", Map.of())), scorer, NOW)) {
                s.prefill(0, 0, 0, Arrays.copyOf(local[0], N), Arrays.copyOf(values, N), Arrays.copyOf(local[1], N));
                s.prefill(0, 1, 0, Arrays.copyOf(reaching[0], N), Arrays.copyOf(values, N),
                        Arrays.copyOf(reaching[1], N));
                KvSession.PolicyState streaming = s.policyState(0, 0);
                KvSession.PolicyState retrieval = s.policyState(0, 1);
                System.out.printf("auto: local head mass outside %.4f -> %s (%d KV bytes); reaching head %.4f -> %s (%d KV bytes, %d index)%n",
                        streaming.measured().massOutsideMean(), streaming.policy(), streaming.kvBytes(), retrieval.measured().massOutsideMean(),
                        retrieval.policy(), retrieval.kvBytes(), retrieval.indexBytes());
                assertThat(streaming.configured()).isEqualTo("auto");
                assertThat(streaming.policy()).isEqualTo("streaming");
                assertThat(streaming.measured().massOutsideMean()).isLessThan(0.01);
                assertThat(retrieval.policy()).isEqualTo("retrieval");
                assertThat(s.indexState(0, 1).state()).isEqualTo("ready");
                assertThat(retrieval.indexBytes()).isPositive();
                // the streaming head dropped what left its window
                assertThat(streaming.kvBytes()).isLessThan(retrieval.kvBytes() / 4);
                for (int t = N; t < N + 300; t++) {
                    s.append(0, 0, t, local[0][t], values[t]);
                    s.append(0, 1, t, reaching[0][t], values[t]);
                }
                assertThat(s.length(0, 0)).isEqualTo(N + 300);
                int n = N + 300;
                float[] q = local[1][n - 1];
                AttendResult got = s.attend(0, 0, q, 100);
                assertThat(got.stats().mode()).isEqualTo("streaming");
                assertThat(got.stats().staticKeys()).isEqualTo(SINKS + WINDOW);
                // the reference: exact attention over the sinks and the window
                float[][] keptKeys = new float[SINKS + WINDOW][];
                float[][] keptValues = new float[SINKS + WINDOW][];
                for (int i = 0; i < SINKS + WINDOW; i++) {
                    int p = i < SINKS ? i : n - WINDOW + i - SINKS;
                    keptKeys[i] = local[0][p];
                    keptValues[i] = values[p];
                }
                float[] want = PolicyHead.open(new HeadPolicy.Full(), keptKeys, keptValues, new float[0][], 1f, scorer,
                        AttentionAwareIndex.Params.defaults()).attend(q, 1).output();
                assertThat(relativeError(got.output(), want)).isLessThan(1e-5);
                assertThatThrownBy(() -> s.attendExact(0, 0, q)).isInstanceOf(IllegalStateException.class).hasMessageContaining("streams");
                assertThat(s.attend(0, 1, reaching[1][n - 1], 400).stats().mode()).isEqualTo("index");
                if (run == 0) {
                    first[0] = streaming;
                    first[1] = retrieval;
                } else { // the same prefill, the same choice and measurements
                    assertThat(streaming.measured()).isEqualTo(first[0].measured());
                    assertThat(retrieval.measured()).isEqualTo(first[1].measured());
                }
            }
        }
    }

    @Test
    void configuredPoliciesAnswerThroughTheirHeadsAndMatchExactAttentionWhenGivenEveryKey() {
        int n = 600;
        float[][][] h = PlantedHeads.diffuse(5, n + 40, DIM);
        float[][] values = values(6, n + 40);
        // top-k of n: block retrieves every block, and every key outside the static set is retrieved
        HeadPolicies policies = new HeadPolicies("full", Map.of("0/1", "block:8", "0/2", "retrieval+tail:" + n));
        try (KvSession s = new KvSession("configured", config(3, n, policies), scorer, NOW)) {
            for (int head = 0; head < 3; head++) {
                s.prefill(0, head, 0, Arrays.copyOf(h[0], n), Arrays.copyOf(values, n), Arrays.copyOf(h[1], n));
                for (int t = n; t < n + 40; t++) {
                    s.append(0, head, t, h[0][t], values[t]);
                }
            }
            String[] modes = {"full", "block:8", "retrieval+tail:" + n};
            for (int head = 0; head < 3; head++) {
                assertThat(s.policyState(0, head).policy()).isEqualTo(modes[head]);
                assertThat(s.policyState(0, head).measured()).isNull();
                for (int i = 0; i < 5; i++) {
                    float[] q = h[1][n + i];
                    AttendResult got = s.attend(0, head, q, 10 * n);
                    AttendResult exact = s.attendExact(0, head, q);
                    assertThat(got.stats().mode()).isEqualTo(modes[head]);
                    assertThat(relativeError(got.output(), exact.output())).as(modes[head]).isLessThan(1e-4);
                    assertThat(s.checkAccuracy(0, head, q, 10 * n).keyRecall()).as(modes[head]).isEqualTo(1.0);
                }
            }
            assertThat(s.policyState(0, 1).indexBytes()).as("block bounds").isPositive();
            assertThat(s.policyState(0, 2).indexBytes()).as("index and clusters").isPositive();
            assertThat(s.policyState(0, 2).searches()).isPositive();
            assertThat(s.memoryBytes()).isGreaterThan(s.policyState(0, 2).indexBytes());
        }
    }

    @Test
    void policiesAndAutomaticChoicesComeBackAfterARestart(@TempDir Path dir) throws Exception {
        float[][][] local = PlantedHeads.head(7, true, N, DIM);
        float[][][] diffuse = PlantedHeads.diffuse(8, N, DIM);
        float[][] values = values(9, N + 20);
        KvSessionConfig config = config(2, 50, new HeadPolicies("auto:0.02", Map.of("0/1", "recycled+tail:0.5")));
        float[] q = diffuse[1][N - 1];
        AttendResult before;
        KvSession.PolicyState auto;
        try (KvSessionStore store = new KvSessionStore(dir, scorer, NOW, NOW, KvDurability.FSYNC)) {
            KvSession s = store.create("p", config);
            s.prefill(0, 0, 0, local[0], Arrays.copyOf(values, N), local[1]);
            s.prefill(0, 1, 0, diffuse[0], Arrays.copyOf(values, N), diffuse[1]);
            for (int t = N; t < N + 20; t++) {
                s.append(0, 0, t, local[0][t - N], values[t]);
            }
            auto = s.policyState(0, 0);
            assertThat(auto.policy()).isEqualTo("streaming");
            assertThat(s.policyState(0, 1).policy()).isEqualTo("recycled+tail:0.5");
            assertThat(s.policyState(0, 1).recycleThreshold()).isEqualTo(0.5);
            assertThat(s.policyState(0, 0).recycleThreshold()).isNull();
            before = s.attend(0, 1, q, 500);
        }
        try (KvSessionStore store = new KvSessionStore(dir, scorer, NOW, NOW, KvDurability.FSYNC)) {
            KvSession s = store.get("p");
            assertThat(s.config().policies()).isEqualTo(config.policies());
            assertThat(s.length(0, 0)).isEqualTo(N + 20);
            assertThat(s.policyState(0, 0).policy()).isEqualTo(auto.policy());
            assertThat(s.policyState(0, 0).measured()).isEqualTo(auto.measured()); // chosen again from the replayed prefill
            AttendResult after = s.attend(0, 1, q, 500);
            assertThat(after.stats().mode()).isEqualTo("recycled+tail:0.5");
            assertThat(relativeError(after.output(), before.output())).isLessThan(1e-5);
        }
    }

    @Test
    void badPoliciesGetClearErrors() {
        assertThatThrownBy(() -> config(2, 10, new HeadPolicies("sometimes", Map.of())).checked())
                .hasMessageContaining("unknown head policy 'sometimes'");
        assertThatThrownBy(() -> config(2, 10, new HeadPolicies("retrieval", Map.of("0/2", "full"))).checked())
                .hasMessageContaining("'0/2' names no head");
        assertThatThrownBy(() -> config(2, 10, new HeadPolicies("retrieval", Map.of("first", "full"))).checked())
                .hasMessageContaining("is not 'layer/kvHead'");
        assertThatThrownBy(() -> config(2, 10, new HeadPolicies("auto:2", Map.of())).checked()).hasMessageContaining("[0, 1]");
        assertThatThrownBy(() -> config(2, 10, new HeadPolicies("block:x", Map.of())).checked()).hasMessageContaining("whole number");
        assertThatThrownBy(() -> config(2, 10, new HeadPolicies(" ", Map.of())).checked()).hasMessageContaining("is required");
        assertThatThrownBy(() -> config(2, 10, new HeadPolicies("streaming", Map.of())).withRetriever(KvSessionConfig.Retriever.HNSW).checked())
                .hasMessageContaining("do not combine");
        assertThatThrownBy(() -> new KvSession("bad", config(2, 10, new HeadPolicies("sometimes", Map.of())), scorer, NOW))
                .isInstanceOf(IllegalArgumentException.class);
        // names are case- and blank-insensitive
        assertThat(new HeadPolicies(" Streaming ", Map.of(" 0/1 ", "FULL")).nameOf(0, 1)).isEqualTo("full");
    }
}
