package dev.attend.index.lucene;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.SimdScorer;
import dev.attend.index.FlatIndex;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * More of the {@link VectorIndex} contract for the approximate indexes (Lucene, Hnswlib), beside the
 * shared {@code dev.attend.index.VectorIndexContract}: recall against {@link FlatIndex} for every
 * similarity with exact scores and the budget as a cap, removal and re-adding, {@code k > size()}, every
 * kind of bad input, searches during inserts and removals. Seeds are fixed (printed;
 * {@code -Dattend.test.seed=N} changes them all).
 */
public abstract class ApproximateIndexContract {

    protected static final int DIM = 32;

    @TempDir
    protected Path tmp;

    /** A new, empty index. */
    protected abstract VectorIndex newIndex(int dim, Similarity similarity);

    /** Opens what {@link VectorIndex#save} wrote. */
    protected abstract VectorIndex open(Path dir) throws IOException;

    protected static long seed(String test) {
        long seed = Long.getLong("attend.test.seed", 42L) * 31 + test.hashCode();
        System.out.println("[seed] " + test + ": " + seed + " (override all with -Dattend.test.seed=N)");
        return seed;
    }

    protected static float[][] gaussian(Random random, int n, int dim) {
        float[][] out = new float[n][dim];
        for (float[] v : out) {
            for (int i = 0; i < dim; i++) {
                v[i] = (float) random.nextGaussian();
            }
        }
        return out;
    }

    protected static long[] ids(int n, long offset) {
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = offset + 7L * i; // not 0..n-1, so that rows and ids cannot be confused
        }
        return ids;
    }

    /** Mean recall@k of {@code index} against the exact answers of a {@link FlatIndex} over the same vectors. */
    protected static double recallAgainstFlat(VectorIndex index, long[] ids, float[][] vectors, float[][] queries,
                                              int k, int budget, Set<Long> removed) {
        try (SimdScorer scorer = new SimdScorer(); FlatIndex flat = new FlatIndex(index.dim(), index.similarity(), scorer)) {
            flat.addAll(ids, vectors);
            for (long id : removed) {
                flat.remove(id);
            }
            double hits = 0;
            for (float[] q : queries) {
                SearchResult exact = flat.search(q, k, Integer.MAX_VALUE);
                SearchResult approx = index.search(q, k, budget);
                assertWellFormed(approx, k, index.size());
                assertThat(approx.stats().distanceComputations()).isLessThanOrEqualTo(budget);
                Set<Long> truth = new HashSet<>();
                for (long id : exact.ids()) {
                    truth.add(id);
                }
                for (int i = 0; i < approx.size(); i++) {
                    long id = approx.ids()[i];
                    assertThat(removed).doesNotContain(id);
                    if (truth.contains(id)) {
                        hits++;
                    }
                    int row = indexOf(ids, id);
                    float expected = index.similarity().score(q, vectors[row]);
                    assertThat(approx.scores()[i]).as("score of id %d", id)
                            .isCloseTo(expected, Offset.offset(1e-3f * Math.max(1, Math.abs(expected))));
                }
            }
            return hits / (queries.length * (double) Math.min(k, index.size()));
        }
    }

    private static int indexOf(long[] ids, long id) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == id) {
                return i;
            }
        }
        throw new AssertionError("id " + id + " was never added");
    }

    protected static void assertWellFormed(SearchResult r, int k, int size) {
        assertThat(r.size()).isLessThanOrEqualTo(Math.min(k, size));
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < r.size(); i++) {
            assertThat(seen.add(r.ids()[i])).as("id %d twice", r.ids()[i]).isTrue();
            assertThat(Float.isFinite(r.scores()[i])).isTrue();
            if (i > 0) {
                assertThat(r.scores()[i]).isLessThanOrEqualTo(r.scores()[i - 1]);
            }
        }
        assertThat(r.stats().distanceComputations()).isGreaterThanOrEqualTo(0);
    }

    @ParameterizedTest
    @EnumSource(Similarity.class)
    void recallAgainstFlatAtAGenerousBudget(Similarity similarity) {
        Random random = new Random(seed("recall-" + similarity));
        int n = 2000;
        float[][] vectors = gaussian(random, n, DIM);
        float[][] queries = gaussian(random, 40, DIM);
        long[] ids = ids(n, 1000);
        try (VectorIndex index = newIndex(DIM, similarity)) {
            index.addAll(ids, vectors);
            assertThat(index.size()).isEqualTo(n);
            double recall = recallAgainstFlat(index, ids, vectors, queries, 10, n / 2, Set.of());
            System.out.printf("%s %s recall@10 at budget %d: %.3f%n", getClass().getSimpleName(), similarity, n / 2, recall);
            assertThat(recall).isGreaterThanOrEqualTo(0.9);
        }
    }

    @Test
    void budgetCapsDistanceComputations() {
        Random random = new Random(seed("budget"));
        int n = 1500;
        float[][] vectors = gaussian(random, n, DIM);
        try (VectorIndex index = newIndex(DIM, Similarity.DOT_PRODUCT)) {
            index.addAll(ids(n, 0), vectors);
            float[] q = gaussian(random, 1, DIM)[0];
            for (int budget : new int[] {1, 5, 10, 50, 200, 1000, n, 10 * n}) {
                SearchResult r = index.search(q, 10, budget);
                assertWellFormed(r, 10, n);
                assertThat(r.stats().distanceComputations()).as("budget %d", budget).isLessThanOrEqualTo(budget);
                if (budget >= 200) {
                    assertThat(r.size()).as("budget %d", budget).isPositive();
                }
            }
            assertThat(index.search(q, 10, 10 * n).size()).isEqualTo(10);
        }
    }

    @Test
    void removedIdsAreNeverReturnedAndCanComeBack() {
        Random random = new Random(seed("remove"));
        int n = 1000;
        float[][] vectors = gaussian(random, n, DIM);
        long[] ids = ids(n, 5);
        float[][] queries = gaussian(random, 20, DIM);
        try (VectorIndex index = newIndex(DIM, Similarity.EUCLIDEAN)) {
            index.addAll(ids, vectors);
            Set<Long> removed = new HashSet<>();
            for (int i = 0; i < n; i += 3) {
                index.remove(ids[i]);
                removed.add(ids[i]);
            }
            assertThat(index.size()).isEqualTo(n - removed.size());
            assertThat(index.contains(ids[0])).isFalse();
            assertThat(index.contains(ids[1])).isTrue();
            double recall = recallAgainstFlat(index, ids, vectors, queries, 10, n, removed);
            assertThat(recall).isGreaterThanOrEqualTo(0.9);
            index.add(ids[0], vectors[0]);
            assertThat(index.contains(ids[0])).isTrue();
            assertThat(index.search(vectors[0], 1, n).ids()).containsExactly(ids[0]);
        }
    }

    @Test
    void emptyIndexAndKAboveSize() {
        try (VectorIndex index = newIndex(DIM, Similarity.COSINE)) {
            float[] q = gaussian(new Random(seed("empty")), 1, DIM)[0];
            assertThat(index.search(q, 10, 100).size()).isZero();
            Random random = new Random(seed("k-above-size"));
            index.addAll(ids(5, 0), gaussian(random, 5, DIM));
            SearchResult r = index.search(q, 10, 1000);
            assertThat(r.size()).isEqualTo(5);
            assertWellFormed(r, 10, 5);
            for (long id : ids(5, 0)) {
                index.remove(id);
            }
            assertThat(index.size()).isZero();
            assertThat(index.search(q, 10, 100).size()).isZero();
        }
    }

    @Test
    void badInputIsRejectedAndChangesNothing() {
        Random random = new Random(seed("bad-input"));
        float[][] vectors = gaussian(random, 200, DIM);
        long[] ids = ids(200, 0);
        float[][] queries = gaussian(random, 5, DIM);
        try (VectorIndex index = newIndex(DIM, Similarity.DOT_PRODUCT)) {
            index.addAll(ids, vectors);
            List<SearchResult> before = new ArrayList<>();
            for (float[] q : queries) {
                before.add(index.search(q, 10, 1000));
            }
            float[] nan = vectors[0].clone();
            nan[3] = Float.NaN;
            float[] inf = vectors[0].clone();
            inf[1] = Float.POSITIVE_INFINITY;
            assertThatThrownBy(() -> index.add(10_000, new float[DIM + 1])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dimension");
            assertThatThrownBy(() -> index.add(10_000, nan)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.add(10_000, inf)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.add(ids[3], vectors[4])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("already");
            // A batch is checked whole: one bad vector, or one id already present, and none is added.
            assertThatThrownBy(() -> index.addAll(new long[] {20_000, 20_001}, new float[][] {vectors[1], nan}))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.addAll(new long[] {20_000, ids[7]}, new float[][] {vectors[1], vectors[2]}))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.addAll(new long[] {20_000, 20_000}, new float[][] {vectors[1], vectors[2]}))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.addAll(new long[] {20_000}, new float[][] {vectors[1], vectors[2]}))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.remove(123_456_789L)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not in the index");
            assertThatThrownBy(() -> index.search(new float[DIM - 1], 10, 100)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.search(nan, 10, 100)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.search(queries[0], 0, 100)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k");
            assertThatThrownBy(() -> index.search(queries[0], -3, 100)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.search(queries[0], 10, 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("budget");
            assertThatThrownBy(() -> index.search(queries[0], 10, -1)).isInstanceOf(IllegalArgumentException.class);

            assertThat(index.size()).isEqualTo(200);
            assertThat(index.contains(20_000)).isFalse();
            assertThat(index.contains(10_000)).isFalse();
            for (int i = 0; i < queries.length; i++) {
                assertThat(index.search(queries[i], 10, 1000)).isEqualTo(before.get(i));
            }
        }
    }

    @Test
    void cosineRejectsZeroVectors() {
        try (VectorIndex index = newIndex(DIM, Similarity.COSINE)) {
            assertThatThrownBy(() -> index.add(1, new float[DIM])).isInstanceOf(IllegalArgumentException.class);
            assertThat(index.size()).isZero();
        }
    }

    @Test
    void saveThenOpenGivesTheSameAnswers() throws IOException {
        Random random = new Random(seed("save-open"));
        int n = 1500;
        float[][] vectors = gaussian(random, n, DIM);
        long[] ids = ids(n, -500);
        float[][] queries = gaussian(random, 20, DIM);
        Path dir = tmp.resolve("saved");
        List<SearchResult> before = new ArrayList<>();
        try (VectorIndex index = newIndex(DIM, Similarity.DOT_PRODUCT)) {
            index.addAll(ids, vectors);
            for (int i = 0; i < n; i += 10) {
                index.remove(ids[i]);
            }
            index.save(dir);
            for (float[] q : queries) {
                before.add(index.search(q, 10, 800));
            }
        }
        try (VectorIndex reopened = open(dir)) {
            assertThat(reopened.size()).isEqualTo(n - n / 10);
            assertThat(reopened.dim()).isEqualTo(DIM);
            assertThat(reopened.similarity()).isEqualTo(Similarity.DOT_PRODUCT);
            assertThat(reopened.contains(ids[0])).isFalse();
            assertThat(reopened.contains(ids[1])).isTrue();
            for (int i = 0; i < queries.length; i++) {
                assertThat(reopened.search(queries[i], 10, 800)).isEqualTo(before.get(i));
            }
            // Saving again into the same directory replaces what was there.
            reopened.add(99_999, vectors[5]);
            reopened.save(dir);
        }
        try (VectorIndex again = open(dir)) {
            assertThat(again.size()).isEqualTo(n - n / 10 + 1);
            assertThat(again.search(vectors[5], 2, 2000).ids()).contains(99_999L);
        }
    }

    @Test
    void searchesRunWhileOneThreadAdds() throws Exception {
        Random random = new Random(seed("concurrent"));
        int initial = 500;
        int added = 1500;
        float[][] vectors = gaussian(random, initial + added, DIM);
        long[] ids = ids(initial + added, 1);
        float[][] queries = gaussian(random, 64, DIM);
        Set<Long> known = new HashSet<>();
        for (long id : ids) {
            known.add(id);
        }
        try (VectorIndex index = newIndex(DIM, Similarity.COSINE)) {
            index.addAll(Arrays.copyOf(ids, initial), Arrays.copyOf(vectors, initial));
            AtomicBoolean writing = new AtomicBoolean(true);
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            AtomicLong searches = new AtomicLong();
            int threads = 3;
            CountDownLatch started = new CountDownLatch(threads);
            List<Thread> searchers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int offset = t;
                Thread thread = new Thread(() -> {
                    started.countDown();
                    int i = offset;
                    try {
                        while (writing.get()) {
                            int k = 1 + (i % 20);
                            int size = index.size();
                            SearchResult r = index.search(queries[i % queries.length], k, 50 + (i * 37) % 2000);
                            assertThat(r.size()).isLessThanOrEqualTo(k);
                            assertThat(r.size()).isLessThanOrEqualTo(Math.max(size, index.size()));
                            for (long id : r.ids()) {
                                assertThat(known).contains(id);
                            }
                            assertWellFormed(r, k, Integer.MAX_VALUE);
                            searches.incrementAndGet();
                            i += threads;
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }, "searcher-" + t);
                thread.start();
                searchers.add(thread);
            }
            started.await();
            for (int i = initial; i < initial + added; i += 25) {
                index.addAll(Arrays.copyOfRange(ids, i, i + 25), Arrays.copyOfRange(vectors, i, i + 25));
                if (i % 50 == 0) {
                    index.remove(ids[i - initial]);
                }
                // Let at least one search finish between writes (for at most 200 ms), so that they interleave.
                long seen = searches.get();
                for (int wait = 0; wait < 200 && searches.get() == seen; wait++) {
                    Thread.sleep(1);
                }
            }
            writing.set(false);
            for (Thread t : searchers) {
                t.join(60_000);
            }
            assertThat(failures).isEmpty();
            assertThat(searches.get()).isPositive();
            System.out.printf("%s: %d searches ran during %d inserts%n", getClass().getSimpleName(), searches.get(), added);
            assertThat(index.size()).isEqualTo(initial + added - added / 50);
            // The last insert is visible to the next search.
            assertThat(index.search(vectors[initial + added - 1], 1, 5000).ids()).containsExactly(ids[initial + added - 1]);
        }
    }
}
