package dev.attend.streaming;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.OpenClScorer;
import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.graph.AttentionAwareIndex;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Aparapi is an optional dependency of attend-gpu (issue 24: an application that only streams events gets no Scala), so
 * this module's class path lacks it. The CPU scorers and an index build still run, {@code auto} takes SIMD as it does
 * without an OpenCL device, and asking for OpenCL says what is missing instead of a {@code NoClassDefFoundError}.
 */
class WithoutAparapiTest {

    private static final int DIM = 8;

    @Test
    void aparapiIsNotOnThisClassPath() {
        assertThatThrownBy(() -> Class.forName("com.aparapi.Kernel")).isInstanceOf(ClassNotFoundException.class);
        assertThatThrownBy(() -> Class.forName("scala.Option")).isInstanceOf(ClassNotFoundException.class);
    }

    @Test
    void theCpuScorersAndAnIndexBuildRunWithoutIt() {
        SplittableRandom rnd = new SplittableRandom(24);
        float[][] keys = gaussian(rnd, 600);
        float[][] queries = gaussian(rnd, 300);
        VectorStore store = new VectorStore(DIM, Precision.FLOAT32);
        for (float[] key : keys) {
            store.append(key);
        }
        TopKResult exact;
        try (Scorer scalar = Scorers.create("scalar")) {
            exact = scalar.topK(queries, store, 10);
            assertThat(exact.device().backend()).isEqualTo("scalar");
        }
        for (String name : new String[] {"simd", "auto"}) {
            try (Scorer scorer = Scorers.create(name)) {
                TopKResult result = scorer.topK(queries, store, 10);
                assertThat(result.device().backend()).as(name).isEqualTo("simd");
                assertThat(result.get(0).ids()).as(name).isEqualTo(exact.get(0).ids());
            }
        }
        assertThat(OpenClScorer.available()).isFalse();

        long[] ids = new long[keys.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        try (Scorer scorer = Scorers.create("auto");
             AttentionAwareIndex index = AttentionAwareIndex.build(DIM, Similarity.DOT_PRODUCT,
                     AttentionAwareIndex.Params.defaults(), ids, keys, queries, scorer, null)) {
            assertThat(index.size()).isEqualTo(keys.length);
            SearchResult found = index.search(queries[0], 10, keys.length);
            assertThat(found.ids()).hasSize(10).contains(exact.get(0).ids()[0]);
        }
    }

    @Test
    void askingForOpenClSaysAparapiIsMissing() {
        for (String name : new String[] {"opencl", "opencl-gpu", "opencl-cpu"}) {
            assertThatThrownBy(() -> Scorers.create(name)).as(name)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("OpenCL scoring needs com.aparapi:aparapi on the classpath");
        }
        assertThatThrownBy(() -> new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("OpenCL scoring needs com.aparapi:aparapi on the classpath");
    }

    private static float[][] gaussian(SplittableRandom rnd, int n) {
        float[][] out = new float[n][DIM];
        for (float[] row : out) {
            for (int d = 0; d < DIM; d++) {
                row[d] = (float) (rnd.nextDouble() * 2 - 1);
            }
        }
        return out;
    }
}
