package dev.attend.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import dev.attend.gpu.SharedData;
import dev.attend.gpu.SimdScorer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link VectorIndex} contract, run against each implementation by a subclass: agreement with
 * {@link FlatIndex}, persistence, searches during inserts, and bad input that changes nothing.
 */
public abstract class VectorIndexContract {

    protected static final long SEED = Long.getLong("attend.test.seed", 7L);
    protected final SimdScorer scorer = new SimdScorer(2);

    /** An empty index of this implementation. */
    protected abstract VectorIndex create(int dim, Similarity similarity);

    /** An index of this implementation over {@code vectors} (ids 0..n-1), built as the implementation prefers. */
    protected VectorIndex build(int dim, Similarity similarity, float[][] vectors, float[][] trainingQueries) {
        VectorIndex index = create(dim, similarity);
        long[] ids = new long[vectors.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        index.addAll(ids, vectors);
        return index;
    }

    protected abstract VectorIndex open(Path dir) throws Exception;

    /** Smallest mean recall@10 expected against the exact answer at a generous budget. */
    protected double minimumRecall() {
        return 0.9;
    }

    @AfterEach
    void closeScorer() {
        scorer.close();
    }

    protected static float[][] gaussian(SplittableRandom rnd, int n, int dim, double shift) {
        float[][] out = new float[n][dim];
        for (float[] row : out) {
            for (int c = 0; c < dim; c++) {
                row[c] = (float) (Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble()) + shift);
            }
        }
        return out;
    }

    protected static double recall(SearchResult got, SearchResult exact) {
        Set<Long> want = new HashSet<>();
        for (long id : exact.ids()) {
            want.add(id);
        }
        int hit = 0;
        for (long id : got.ids()) {
            hit += want.contains(id) ? 1 : 0;
        }
        return exact.size() == 0 ? 1 : (double) hit / exact.size();
    }

    @Test
    void agreesWithFlatIndex() {
        System.out.println(getClass().getSimpleName() + " seed " + SEED);
        for (Similarity similarity : Similarity.values()) {
            SplittableRandom rnd = new SplittableRandom(SEED + similarity.ordinal());
            int dim = 24;
            float[][] vectors = gaussian(rnd, 3000, dim, 0);
            float[][] training = gaussian(rnd, 1500, dim, 0.3);
            float[][] queries = gaussian(rnd, 40, dim, 0.3);
            try (VectorIndex index = build(dim, similarity, vectors, training);
                 FlatIndex flat = new FlatIndex(dim, similarity, scorer)) {
                long[] ids = new long[vectors.length];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = i;
                }
                flat.addAll(ids, vectors);
                assertThat(index.size()).isEqualTo(vectors.length);
                double sum = 0;
                for (float[] q : queries) {
                    SearchResult exact = flat.search(q, 10, Integer.MAX_VALUE);
                    SearchResult got = index.search(q, 10, vectors.length);
                    assertThat(got.size()).isEqualTo(10);
                    for (int i = 0; i < got.size(); i++) {
                        float direct = similarity.score(q, vectors[(int) got.ids()[i]]);
                        assertThat(got.scores()[i]).as("%s score of id %d", similarity, got.ids()[i])
                                .isCloseTo(direct, Offset.offset(1e-3f * Math.max(1, Math.abs(direct))));
                    }
                    assertThat(got.stats().distanceComputations()).isPositive();
                    sum += recall(got, exact);
                }
                assertThat(sum / queries.length).as("%s mean recall@10", similarity).isGreaterThanOrEqualTo(minimumRecall());
            }
        }
    }

    /**
     * The same on a real attention head (the first 4,096 keys of minilm L2H0, the next 256 queries as
     * test queries, the first 2,048 as training queries): attention queries are out of distribution
     * for the keys, which is where a graph built from keys alone goes astray.
     */
    @Test
    void agreesWithFlatIndexOnARealHead() throws Exception {
        Optional<Path> dir = SharedData.resolve("kv/minilm-shakespeare");
        if (dir.isEmpty()) {
            System.out.println("SKIP " + getClass().getSimpleName() + " on a real head: ../shared/data/kv/minilm-shakespeare not found");
        }
        Assumptions.assumeTrue(dir.isPresent(), "../shared/data/kv/minilm-shakespeare not found");
        KvHead head = KvHead.load(dir.get(), "L2H0", Precision.FLOAT32);
        int n = 4096;
        float[][] keys = new float[n][];
        float[][] training = new float[2048][];
        float[][] queries = new float[256][];
        for (int i = 0; i < n; i++) {
            keys[i] = head.keys().row(i);
        }
        for (int i = 0; i < training.length; i++) {
            training[i] = head.queries().row(i);
        }
        for (int i = 0; i < queries.length; i++) {
            queries[i] = head.queries().row(n + i);
        }
        int dim = keys[0].length;
        try (VectorIndex index = build(dim, Similarity.DOT_PRODUCT, keys, training);
             FlatIndex flat = new FlatIndex(dim, Similarity.DOT_PRODUCT, scorer)) {
            long[] ids = new long[n];
            for (int i = 0; i < n; i++) {
                ids[i] = i;
            }
            flat.addAll(ids, keys);
            double sum = 0;
            for (float[] q : queries) {
                sum += recall(index.search(q, 10, n / 20), flat.search(q, 10, Integer.MAX_VALUE));
            }
            System.out.printf("%s on minilm L2H0 (%d keys): mean recall@10 %.3f at a budget of 5%% of the keys%n",
                    getClass().getSimpleName(), n, sum / queries.length);
            assertThat(sum / queries.length).isGreaterThanOrEqualTo(minimumRealRecall());
        }
    }

    /** Smallest mean recall@10 expected on the real head at a budget of 5% of the keys. */
    protected double minimumRealRecall() {
        return 0.8;
    }

    @Test
    void saveAndReopenGiveTheSameAnswers(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int dim = 16;
        float[][] vectors = gaussian(rnd, 800, dim, 0);
        float[][] queries = gaussian(rnd, 10, dim, 0.2);
        try (VectorIndex index = build(dim, Similarity.DOT_PRODUCT, vectors, gaussian(rnd, 400, dim, 0.2))) {
            index.remove(5);
            index.save(dir);
            index.remove(6);
            index.save(dir); // a second generation replaces the first
            try (VectorIndex reopened = open(dir)) {
                assertThat(reopened.size()).isEqualTo(index.size());
                assertThat(reopened.contains(5)).isFalse();
                assertThat(reopened.contains(7)).isTrue();
                for (float[] q : queries) {
                    assertThat(reopened.search(q, 10, 400).ids()).containsExactly(index.search(q, 10, 400).ids());
                }
            }
        }
    }

    @Test
    void searchesRunWhileOneWriterAdds() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int dim = 16;
        float[][] initial = gaussian(rnd, 500, dim, 0);
        float[][] more = gaussian(rnd, 500, dim, 0);
        float[][] queries = gaussian(rnd, 20, dim, 0.2);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (VectorIndex index = build(dim, Similarity.DOT_PRODUCT, initial, gaussian(rnd, 200, dim, 0.2))) {
            List<Future<Integer>> readers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                readers.add(pool.submit(() -> {
                    int searches = 0;
                    for (int r = 0; r < 200; r++) {
                        SearchResult res = index.search(queries[r % queries.length], 10, 300);
                        assertThat(res.size()).isBetween(1, 10);
                        assertThat(new HashSet<>(Arrays.stream(res.ids()).boxed().toList())).hasSize(res.size());
                        searches++;
                    }
                    return searches;
                }));
            }
            for (int i = 0; i < more.length; i++) {
                index.add(10_000 + i, more[i]);
            }
            for (Future<Integer> f : readers) {
                assertThat(f.get(60, TimeUnit.SECONDS)).isEqualTo(200);
            }
            assertThat(index.size()).isEqualTo(1000);
            assertThat(index.contains(10_499)).isTrue();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void badInputGetsAClearErrorAndChangesNothing() {
        try (VectorIndex index = create(4, Similarity.DOT_PRODUCT)) {
            assertThat(index.search(new float[] {1, 0, 0, 0}, 5, 10).size()).isZero();
            index.addAll(new long[] {1, 2, 3}, new float[][] {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}});
            assertThatThrownBy(() -> index.add(4, new float[] {1, 2})).hasMessageContaining("dimension 2, expected 4");
            assertThatThrownBy(() -> index.add(4, new float[] {1, Float.NaN, 0, 0})).hasMessageContaining("NaN");
            assertThatThrownBy(() -> index.add(2, new float[] {1, 1, 1, 1})).hasMessageContaining("already");
            assertThatThrownBy(() -> index.addAll(new long[] {7, 8}, new float[][] {{1, 1, 1, 1}, {1, Float.POSITIVE_INFINITY, 1, 1}}))
                    .hasMessageContaining("Infinity");
            assertThatThrownBy(() -> index.remove(99)).hasMessageContaining("99");
            assertThatThrownBy(() -> index.search(new float[] {1, 0, 0}, 5, 10)).hasMessageContaining("dimension 3, expected 4");
            assertThatThrownBy(() -> index.search(new float[] {1, 0, 0, 0}, 0, 10)).hasMessageContaining("k must be >= 1");
            assertThatThrownBy(() -> index.search(new float[] {1, 0, 0, 0}, 5, 0)).hasMessageContaining("budget");
            assertThat(index.size()).isEqualTo(3);
            assertThat(index.contains(7)).isFalse();
            assertThat(index.search(new float[] {1, 0, 0, 0}, 10, 100).ids()).hasSize(3).startsWith(1L);
        }
    }
}
