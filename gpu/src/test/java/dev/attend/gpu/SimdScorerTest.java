package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The SIMD scorer's paths that the conformance shapes reach only by chance: ties, page ends, odd query counts. */
class SimdScorerTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("SimdScorerTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    /**
     * Small integer vectors: every dot product is exact in float, so the SIMD scores equal the scalar ones bit for
     * bit and the many ties must be broken the same way (smaller id first), whichever path (streaming, tile maxima
     * with four-query blocks and a remainder) and however many threads.
     */
    @Test
    void manyTiesGiveTheScalarScorersIdsExactly() {
        SplittableRandom rnd = new SplittableRandom(SEED + 9);
        try (Scorer scalar = new ScalarScorer(); SimdScorer one = new SimdScorer(1); SimdScorer two = new SimdScorer(2)) {
            for (int dim : new int[] {4, 16, 48, 128}) {
                VectorStore keys = new VectorStore(dim, Precision.FLOAT32);
                // long enough to cross a page of the store (pages end at a row that is no multiple of 32)
                assertSameAsScalar(smallIntegers(keys, keys.pageRows() + 777, rnd), rnd, scalar, one, two);
                // up to 2^14 keys a multi-threaded scorer splits the queries instead of the keys
                assertSameAsScalar(smallIntegers(new VectorStore(dim, Precision.FLOAT32), 1000 + dim, rnd), rnd, scalar, one, two);
            }
        }
    }

    /**
     * Real-valued keys whose last tile is partial (87 = 2 x 32 + 23 rows): the partial tile's row-major sums may
     * round differently in two compilations, so it must not bound a query's threshold. Before that fix, one thread
     * lost the best row of 112 of 7,664 queries (an empty top 1); now every query gets the scalar scorer's best.
     */
    @Test
    void aPartialTileNeverLosesAQuerysBestRow() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        try (Scorer scalar = new ScalarScorer(); SimdScorer one = new SimdScorer(1); SimdScorer two = new SimdScorer(2)) {
            for (int dim : new int[] {32, 64}) {
                VectorStore keys = new VectorStore(dim, Precision.FLOAT32);
                for (int r = 0; r < 87; r++) {
                    float[] row = new float[dim];
                    for (int c = 0; c < dim; c++) {
                        row[c] = (float) rnd.nextGaussian();
                    }
                    keys.append(row);
                }
                float[][] queries = new float[4000][dim];
                for (float[] q : queries) {
                    for (int c = 0; c < dim; c++) {
                        q[c] = (float) rnd.nextGaussian();
                    }
                }
                TopKResult want = scalar.topK(queries, keys, 1);
                for (SimdScorer s : new SimdScorer[] {one, two}) {
                    for (int rep = 0; rep < 3; rep++) { // again once compiled
                        TopKResult got = s.topK(queries, keys, 1);
                        for (int i = 0; i < queries.length; i++) {
                            assertThat(got.get(i).ids()).as("d=%d query %d threads=%d", dim, i, s.threads()).hasSize(1);
                            assertThat(got.get(i).scores()[0]).isCloseTo(want.get(i).scores()[0], Offset.offset(1e-3f));
                        }
                    }
                }
            }
        }
    }

    private static VectorStore smallIntegers(VectorStore keys, int n, SplittableRandom rnd) {
        float[] rows = new float[n * keys.dim()];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = rnd.nextInt(5) - 2;
        }
        keys.appendRows(rows, 0, n);
        return keys;
    }

    private static void assertSameAsScalar(VectorStore keys, SplittableRandom rnd, Scorer scalar, SimdScorer... scorers) {
        int dim = keys.dim();
        for (int m : new int[] {1, 7, 13, 64, 201}) { // 201: several chunks of queries, the last one partial
            float[][] queries = new float[m][dim];
            for (float[] q : queries) {
                for (int c = 0; c < dim; c++) {
                    q[c] = rnd.nextInt(3) - 1;
                }
            }
            for (int k : new int[] {1, 20, 333}) {
                TopKResult want = scalar.topK(queries, keys, k);
                for (SimdScorer s : scorers) {
                    TopKResult got = s.topK(queries, keys, k);
                    for (int i = 0; i < m; i++) {
                        assertThat(got.get(i).ids()).as("n=%d d=%d m=%d k=%d q=%d threads=%d", keys.size(), dim, m, k, i, s.threads())
                                .containsExactly(want.get(i).ids());
                        assertThat(got.get(i).scores()).containsExactly(want.get(i).scores());
                    }
                    // handed over by ranges: every query once, with the same results
                    TopK[] byRange = new TopK[m];
                    AtomicInteger handed = new AtomicInteger();
                    s.topK(queries, keys, k, (from, to, perQuery) -> {
                        for (int i = from; i < to; i++) {
                            assertThat(byRange[i]).as("query %d handed over twice", i).isNull();
                            byRange[i] = perQuery.get(i);
                        }
                        handed.addAndGet(to - from);
                    });
                    assertThat(handed.get()).isEqualTo(m);
                    for (int i = 0; i < m; i++) {
                        assertThat(byRange[i].ids()).containsExactly(want.get(i).ids());
                    }
                }
            }
        }
    }

    @Test
    void kthLargestSelectsLikeASort() {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        for (int round = 0; round < 500; round++) {
            int n = 1 + rnd.nextInt(300);
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = rnd.nextBoolean() ? rnd.nextInt(4) : (float) rnd.nextGaussian();
            }
            float[] sorted = a.clone();
            Arrays.sort(sorted);
            int k = 1 + rnd.nextInt(n);
            float[] padded = new float[n + 5];
            System.arraycopy(a, 0, padded, 3, n);
            assertThat(TileMaximaScan.kthLargest(padded, 3, n, k, new float[n])).as("bounded, n %d k %d", n, k).isEqualTo(sorted[n - k]);
            assertThat(TileMaximaScan.kthLargest(a, n, k)).isEqualTo(sorted[n - k]);
        }
    }
}
