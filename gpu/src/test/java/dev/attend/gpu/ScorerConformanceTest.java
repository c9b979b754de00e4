package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every backend against the scalar reference, on many shapes of random data. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ScorerConformanceTest {

    private static final long SEED = Long.getLong("attend.test.seed", 20261128L);
    private final ScalarScorer reference = new ScalarScorer();
    private final List<Scorer> open = new ArrayList<>();

    @BeforeAll
    void printSeed() {
        System.out.println("ScorerConformanceTest seed " + SEED + " (rerun with -Dattend.test.seed=" + SEED + ")");
    }

    @AfterAll
    void closeAll() {
        open.forEach(Scorer::close);
    }

    Stream<Arguments> backends() {
        List<Arguments> out = new ArrayList<>();
        SimdScorer single = new SimdScorer(1);
        SimdScorer multi = new SimdScorer(3);
        open.add(single);
        open.add(multi);
        out.add(Arguments.of("simd-1", single));
        out.add(Arguments.of("simd-3", multi));
        if (OpenClScorer.available()) {
            // Small device buffers force several shards even on small inputs.
            OpenClScorer cl = new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU, 1L << 20, new SimdScorer(1));
            open.add(cl);
            assertThat(cl.device().backend()).isEqualTo("opencl");
            out.add(Arguments.of("opencl", cl));
        } else {
            System.out.println("SKIP OpenCL conformance: no OpenCL device here (install ocl-icd-libopencl1 pocl-opencl-icd)");
        }
        return out.stream();
    }

    Stream<Arguments> shapes() {
        List<Arguments> out = new ArrayList<>();
        for (Arguments b : backends().toList()) {
            for (int dim : new int[] {32, 64, 128, 256}) {
                for (int n : new int[] {1, 257, 4999}) {
                    for (int m : new int[] {1, 13, 64}) {
                        if (m == 13 && n != 4999) {
                            continue; // 13 queries: many-query tiles with a remainder of the blocks of four, on full tiles
                        }
                        out.add(Arguments.of(b.get()[0], b.get()[1], dim, n, m));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0} d={2} n={3} m={4}")
    @MethodSource("shapes")
    void topKMatchesReference(String name, Scorer scorer, int dim, int n, int m) {
        SplittableRandom rnd = new SplittableRandom(SEED ^ (dim * 31L + n * 7L + m));
        float[][] rows = RandomVectors.gaussian(rnd, n, dim, 0);
        float[][] queries = RandomVectors.gaussian(rnd, m, dim, 0.5);
        for (Precision p : Precision.values()) {
            VectorStore keys = RandomVectors.store(rows, dim, p);
            for (int k : new int[] {1, 10, 100, n + 5}) {
                TopKResult got = scorer.topK(queries, keys, k);
                assertThat(got.device()).as("result names the device that ran").isEqualTo(scorer.device());
                assertThat(got.device().backend()).as("no fallback").isEqualTo(name.replaceAll("-\\d+$", ""));
                TopKResult want = reference.topK(queries, keys, k);
                assertThat(got.perQuery()).hasSize(m);
                for (int i = 0; i < m; i++) {
                    ScorerAssertions.assertSameTopK(name + " " + p + " k=" + k + " q=" + i, got.get(i), want.get(i), queries[i], keys);
                }
            }
        }
    }

    /** A top-k over rows [from, to) of a larger store is the top-k of those rows alone, with the store's row ids. */
    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("backends")
    void topKOverARowRangeIsTheTopKOfThoseRows(String name, Scorer scorer) {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        int dim = 64;
        for (Precision precision : Precision.values()) {
            float[][] rows = RandomVectors.gaussian(rnd, 5000, dim, 0);
            VectorStore keys = RandomVectors.store(rows, dim, precision);
            VectorStore inside = RandomVectors.store(Arrays.copyOfRange(rows, 700, 4300), dim, precision);
            for (int m : new int[] {5, 300}) { // 300: many queries over few rows split over the threads
                float[][] queries = RandomVectors.gaussian(rnd, m, dim, 0.5);
                List<TopK> got = scorer.topK(queries, keys, 700, 4300, 50).perQuery();
                List<TopK> want = reference.topK(queries, inside, 50).perQuery();
                for (int i = 0; i < m; i++) {
                    int[] shifted = Arrays.stream(want.get(i).ids()).map(r -> r + 700).toArray();
                    assertThat(got.get(i).ids()).as("%s %s query %d", name, precision, i).containsExactlyInAnyOrder(shifted);
                }
            }
        }
        assertThatThrownBy(() -> scorer.topK(new float[1][dim], RandomVectors.store(new float[10][dim], dim, Precision.FLOAT32), 5, 11, 3))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("backends")
    void scoresMatchReference(String name, Scorer scorer) {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int dim = 64;
        float[][] rows = RandomVectors.gaussian(rnd, 3001, dim, 0);
        float[][] queries = RandomVectors.gaussian(rnd, 17, dim, 0);
        VectorStore keys = RandomVectors.store(rows, dim, Precision.FLOAT32);
        ScoreMatrix got = scorer.scores(queries, keys, 1000, 2999);
        ScoreMatrix want = reference.scores(queries, keys, 1000, 2999);
        assertThat(got.device().backend()).as("no fallback").isEqualTo(name.replaceAll("-\\d+$", ""));
        assertThat(got.rows()).isEqualTo(17);
        assertThat(got.cols()).isEqualTo(1999);
        for (int i = 0; i < 17; i++) {
            for (int j = 0; j < 1999; j++) {
                assertThat(got.get(i, j)).isCloseTo(want.get(i, j), Offset.offset(
                        (float) ScorerAssertions.tolerance(queries[i], rows[1000 + j])));
            }
        }
        assertThat(scorer.scores(queries, keys, 5, 5).scores()).isEmpty();
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("backends")
    void attendMatchesReference(String name, Scorer scorer) {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        for (int dim : new int[] {32, 128}) {
            VectorStore keys = RandomVectors.store(RandomVectors.gaussian(rnd, 1500, dim, 0), dim, Precision.FLOAT16);
            VectorStore values = RandomVectors.store(RandomVectors.gaussian(rnd, 1500, dim, 0), dim, Precision.FLOAT32);
            float[] q = RandomVectors.gaussian(rnd, 1, dim, 0)[0];
            int[] subset = rnd.ints(200, 0, 1500).toArray();
            for (int[] s : new int[][] {null, subset}) {
                AttentionOutput got = scorer.attend(q, keys, values, s, (float) (1 / Math.sqrt(dim)));
                AttentionOutput want = reference.attend(q, keys, values, s, (float) (1 / Math.sqrt(dim)));
                assertThat(got.logSumExp()).isCloseTo(want.logSumExp(), Offset.offset(1e-4 * Math.abs(want.logSumExp()) + 1e-4));
                for (int c = 0; c < dim; c++) {
                    assertThat(got.output()[c]).isCloseTo(want.output()[c], Offset.offset(1e-4f));
                }
            }
            AttentionOutput empty = scorer.attend(q, keys, values, new int[0], 1f);
            assertThat(empty.logSumExp()).isEqualTo(Double.NEGATIVE_INFINITY);
            assertThat(empty.output()).containsOnly(0f);
        }
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("backends")
    void emptyInputs(String name, Scorer scorer) {
        VectorStore empty = new VectorStore(32, Precision.FLOAT32);
        TopKResult r = scorer.topK(new float[][] {new float[32]}, empty, 10);
        assertThat(r.get(0).size()).isZero();
        assertThat(scorer.topK(new float[0][], empty, 10).perQuery()).isEmpty();
        VectorStore one = VectorStore.of(32, new float[32]);
        assertThat(scorer.topK(new float[][] {new float[32]}, one, 0).get(0).size()).isZero();
    }

    @ParameterizedTest(autoCloseArguments = false, name = "{0}")
    @MethodSource("backends")
    void badInputIsRejected(String name, Scorer scorer) {
        VectorStore keys = VectorStore.of(4, new float[] {1, 2, 3, 4, 5, 6, 7, 8});
        assertThatThrownBy(() -> scorer.topK(new float[][] {{1, 2, 3}}, keys, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dimension 3, expected 4");
        assertThatThrownBy(() -> scorer.topK(new float[][] {{1, Float.NaN, 3, 4}}, keys, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
        assertThatThrownBy(() -> scorer.topK(new float[][] {{1, 2, Float.POSITIVE_INFINITY, 4}}, keys, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Infinity");
        assertThatThrownBy(() -> scorer.topK(new float[][] {{1, 2, 3, 4}}, keys, -1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k must be >= 0");
        assertThatThrownBy(() -> scorer.scores(new float[][] {{1, 2, 3, 4}}, keys, 1, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside");
        assertThatThrownBy(() -> scorer.attend(new float[] {1, 2, 3, 4}, keys, keys, new int[] {2}, 1f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a row id");
        assertThatThrownBy(() -> scorer.attend(new float[] {1, 2, 3, 4}, keys, keys, null, Float.NaN))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scale");
    }
}
