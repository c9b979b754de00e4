package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** What only the OpenCL scorer does: resident keys that grow, and reporting where it ran. */
class OpenClScorerTest {

    @Test
    void residentKeysFollowAppends() {
        boolean present = OpenClScorer.available();
        if (!present) {
            System.out.println("SKIP OpenClScorerTest.residentKeysFollowAppends: no OpenCL device here");
        }
        Assumptions.assumeTrue(present, "no OpenCL device");
        SplittableRandom rnd = new SplittableRandom(99);
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
        }
    }

    @Test
    void missingDeviceKindFallsBackVisibly() {
        boolean gpu = OpenClScorer.listDevices().stream().anyMatch(d -> d.getType() == com.aparapi.device.Device.TYPE.GPU);
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
