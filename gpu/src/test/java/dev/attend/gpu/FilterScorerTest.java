package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** A filter with nothing overridden answers every call exactly as the scorer it wraps. */
class FilterScorerTest {

    @Test
    void passesEveryCallThrough() {
        SplittableRandom rnd = new SplittableRandom(Long.getLong("attend.test.seed", 0L) + 3);
        int dim = 24;
        VectorStore keys = new VectorStore(dim, Precision.FLOAT16);
        VectorStore values = new VectorStore(dim, Precision.FLOAT32);
        for (int i = 0; i < 900; i++) {
            keys.append(gaussian(rnd, dim));
            values.append(gaussian(rnd, dim));
        }
        float[][] queries = new float[5][];
        for (int i = 0; i < queries.length; i++) {
            queries[i] = gaussian(rnd, dim);
        }
        SimdScorer simd = new SimdScorer(2);
        try (Scorer filter = new FilterScorer(simd) { }) { // closing the filter closes simd
            assertThat(filter.device()).isEqualTo(simd.device());
            assertThat(filter.scores(queries, keys, 10, 400).scores()).containsExactly(simd.scores(queries, keys, 10, 400).scores());
            for (int q = 0; q < queries.length; q++) {
                TopK a = filter.topK(queries, keys, 7).perQuery().get(q);
                TopK b = simd.topK(queries, keys, 7).perQuery().get(q);
                assertThat(a.ids()).containsExactly(b.ids());
                TopK ra = filter.topK(queries, keys, 100, 700, 7).perQuery().get(q);
                TopK rb = simd.topK(queries, keys, 100, 700, 7).perQuery().get(q);
                assertThat(ra.ids()).containsExactly(rb.ids());
            }
            int[] subset = {0, 5, 17, 400, 899};
            AttentionOutput a = filter.attend(queries[0], keys, values, subset, 0.2f);
            AttentionOutput b = simd.attend(queries[0], keys, values, subset, 0.2f);
            assertThat(a.output()).containsExactly(b.output());
            assertThat(a.logSumExp()).isEqualTo(b.logSumExp());
        }
    }

    private static float[] gaussian(SplittableRandom rnd, int dim) {
        float[] v = new float[dim];
        for (int c = 0; c < dim; c++) {
            v[c] = (float) rnd.nextGaussian();
        }
        return v;
    }
}
