package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import com.aparapi.device.Device;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What only the OpenCL scorer does: resident keys that grow, and reporting where it ran. */
class OpenClScorerTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("OpenClScorerTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @Test
    void residentKeysFollowAppends() {
        boolean present = OpenClScorer.available();
        if (!present) {
            System.out.println("SKIP OpenClScorerTest.residentKeysFollowAppends: no OpenCL device here");
        }
        Assumptions.assumeTrue(present, "no OpenCL device");
        SplittableRandom rnd = new SplittableRandom(SEED + 99);
        int dim = 48;
        VectorStore keys = new VectorStore(dim, Precision.FLOAT32);
        ScalarScorer reference = new ScalarScorer();
        try (OpenClScorer cl = new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU, 256L * 1024, new SimdScorer(1))) {
            assertThat(cl.device().backend()).isEqualTo("opencl");
            for (int round = 0; round < 6; round++) {
                int add = round == 0 ? 10 : rnd.nextInt(1, 700);
                for (float[] row : RandomVectors.gaussian(rnd, add, dim, 0)) {
                    keys.append(row);
                }
                float[][] q = RandomVectors.gaussian(rnd, 3, dim, 0.2);
                TopKResult got = cl.topK(q, keys, 25);
                TopKResult want = reference.topK(q, keys, 25);
                assertThat(got.device().backend()).as("ran on OpenCL").isEqualTo("opencl");
                for (int j = 0; j < q.length; j++) {
                    ScorerAssertions.assertSameTopK("round " + round + " q" + j, got.get(j), want.get(j), q[j], keys);
                }
                assertThat(cl.residentBytes(keys)).isGreaterThanOrEqualTo((long) keys.size() * dim * 4);
            }
            float[][] q = RandomVectors.gaussian(rnd, 2, dim, 0);
            TopKResult before = cl.topK(q, keys, 10);
            cl.release(keys);
            assertThat(cl.residentBytes(keys)).isZero();
            assertThat(cl.topK(q, keys, 10).perQuery()).isEqualTo(before.perQuery());
            assertThat(cl.residentBytes(keys)).isPositive();
        }
    }

    @Test
    void candidatePathMatchesSimd() {
        Assumptions.assumeTrue(OpenClScorer.available(), "no OpenCL device");
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        int dim = 64;
        VectorStore keys = RandomVectors.store(RandomVectors.gaussian(rnd, 150_000, dim, 0), dim, Precision.FLOAT32);
        float[][] q = RandomVectors.gaussian(rnd, 20, dim, 0.3);
        try (OpenClScorer cl = new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU, 8L << 20, new SimdScorer(1));
             SimdScorer simd = new SimdScorer()) {
            for (int k : new int[] {1, 37, 100}) {
                TopKResult got = cl.topK(q, keys, k);
                assertThat(got.device().backend()).isEqualTo("opencl");
                assertThat(cl.lastProfile().candidates()).as("threshold path taken").isPositive();
                assertThat(cl.lastProfile().shards()).isGreaterThan(1);
                TopKResult want = simd.topK(q, keys, k);
                for (int j = 0; j < q.length; j++) {
                    ScorerAssertions.assertSameTopK("k=" + k + " q" + j, got.get(j), want.get(j), q[j], keys);
                }
            }
        }
    }

    /** Candidate lists that overflow, on the full scan and on the range top-k. */
    @Test
    void overflowingCandidateListsStayExact() {
        Assumptions.assumeTrue(OpenClScorer.available(), "no OpenCL device");
        int dim = 8;
        int n = 200_000;
        float[] rows = new float[n * dim];
        Arrays.fill(rows, 0.5f);
        rows[(n - 1) * dim] = 2f; // one row stands out; every other row ties
        VectorStore keys = VectorStore.of(dim, rows);
        float[] q = {1, 1, 1, 1, 1, 1, 1, 1};
        try (OpenClScorer cl = new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU)) {
            TopK top = cl.topK(new float[][] {q}, keys, 5).get(0);
            assertThat(top.ids()).containsExactly(n - 1, 0, 1, 2, 3);
            assertThat(top.scores()).containsExactly(5.5f, 4f, 4f, 4f, 4f);
            // The range path: no threshold bounds rows that tie exactly, so the host scores that query.
            TopKResult range = cl.topK(new float[][] {q}, keys, 1000, n, 5);
            assertThat(range.device().backend()).isEqualTo("opencl");
            assertThat(cl.lastProfile().hostQueries()).isEqualTo(1);
            assertThat(range.get(0).ids()).containsExactly(n - 1, 1000, 1001, 1002, 1003);
            assertThat(range.get(0).scores()).containsExactly(5.5f, 4f, 4f, 4f, 4f);
        }
    }

    @Test
    void closedScorersSaySo() {
        VectorStore keys = VectorStore.of(2, new float[] {1, 0});
        for (Scorer s : new Scorer[] {new SimdScorer(2), new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU)}) {
            s.close();
            Assertions.assertThatThrownBy(() -> s.topK(new float[][] {{1, 0}}, keys, 1))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
    }

    @Test
    void missingDeviceKindFallsBackVisibly() {
        boolean gpu = OpenClScorer.listDevices().stream().anyMatch(d -> d.getType() == Device.TYPE.GPU);
        Assumptions.assumeFalse(gpu, "a GPU is present");
        try (OpenClScorer cl = new OpenClScorer(OpenClScorer.Target.GPU)) {
            assertThat(cl.onDevice()).isFalse();
            VectorStore keys = VectorStore.of(2, new float[] {1, 0, 0, 1});
            TopKResult r = cl.topK(new float[][] {{0, 1}}, keys, 1);
            assertThat(r.device().backend()).isEqualTo("simd");
            assertThat(r.get(0).ids()).containsExactly(1);
        }
    }
}
