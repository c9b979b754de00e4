package dev.attend.index.hnswlib;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.index.IndexFiles;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.hnswlib.HnswlibIndex.Options;
import dev.attend.index.lucene.ApproximateIndexContract;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class HnswlibIndexTest extends ApproximateIndexContract {

    @Override
    protected VectorIndex newIndex(int dim, Similarity similarity) {
        return new HnswlibIndex(dim, similarity, Options.defaults());
    }

    @Override
    protected VectorIndex open(Path dir) throws IOException {
        return HnswlibIndex.open(dir);
    }

    @Test
    void distanceComputationsAreExactAndGrowWithTheBudget() {
        Random random = new Random(seed("hnswlib-budget"));
        int n = 3000;
        float[][] vectors = gaussian(random, n, DIM);
        float[][] queries = gaussian(random, 20, DIM);
        try (HnswlibIndex index = new HnswlibIndex(DIM, Similarity.DOT_PRODUCT, Options.defaults())) {
            index.addAll(ids(n, 0), vectors);
            long previous = 0;
            for (int budget : new int[] {1, 7, 64, 320, 1000, 3000}) {
                long spent = 0;
                for (float[] q : queries) {
                    SearchResult r = index.search(q, 10, budget);
                    assertWellFormed(r, 10, n);
                    assertThat(r.stats().distanceComputations()).isBetween(1L, (long) budget);
                    assertThat(r.stats().method()).isEqualTo("hnswlib");
                    spent += r.stats().distanceComputations();
                }
                assertThat(spent).as("budget %d", budget).isGreaterThanOrEqualTo(previous);
                previous = spent;
            }
            // The search width follows the budget: budget / 4, at least k, at most the size.
            assertThat(index.efFor(10, 20, n)).isEqualTo(10);
            assertThat(index.efFor(10, 400, n)).isEqualTo(100);
            assertThat(index.efFor(10, Integer.MAX_VALUE, n)).isEqualTo(n);
            assertThat(index.efFor(10, Integer.MAX_VALUE, 1_000_000)).isEqualTo(HnswlibIndex.MAX_EF);
            assertThat(index.efFor(10, Integer.MAX_VALUE, 50)).isEqualTo(50);
            assertThat(index.efFor(20_000, 10, 50)).isEqualTo(20_000);
        }
    }

    @Test
    void countingMatchesABruteForceCountOnATinyIndex() {
        Random random = new Random(seed("hnswlib-tiny"));
        float[][] vectors = gaussian(random, 6, DIM);
        try (HnswlibIndex index = new HnswlibIndex(DIM, Similarity.EUCLIDEAN, Options.defaults())) {
            index.addAll(ids(6, 0), vectors);
            // Six nodes: returning all six scores each at least once; the descent through upper levels
            // may score a node again on the level below (hnswlib does), and that is counted too.
            SearchResult r = index.search(vectors[2], 6, 1000);
            assertThat(r.size()).isEqualTo(6);
            assertThat(r.stats().distanceComputations()).isBetween(6L, 12L);
            assertThat(r.ids()[0]).isEqualTo(14L);
            assertThat(r.scores()[0]).isCloseTo(0f, Offset.offset(1e-6f));
            // With a budget of 3, three are scored and only those can be returned.
            SearchResult capped = index.search(vectors[2], 6, 3);
            assertThat(capped.stats().distanceComputations()).isEqualTo(3);
            assertThat(capped.size()).isLessThanOrEqualTo(3);
        }
    }

    @Test
    void capacityGrowsWhileSearchesRun() throws Exception {
        Random random = new Random(seed("hnswlib-grow"));
        int n = 1500;
        float[][] vectors = gaussian(random, n, DIM);
        try (HnswlibIndex index = new HnswlibIndex(DIM, Similarity.COSINE, Options.defaults().withInitialCapacity(4))) {
            index.add(0, vectors[0]);
            var failures = new ConcurrentLinkedQueue<Throwable>();
            var writing = new AtomicBoolean(true);
            Thread searcher = new Thread(() -> {
                int i = 0;
                try {
                    while (writing.get()) {
                        assertWellFormed(index.search(vectors[i++ % n], 5, 500), 5, Integer.MAX_VALUE);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            searcher.start();
            for (int i = 1; i < n; i++) {
                index.add(i, vectors[i]);
            }
            writing.set(false);
            searcher.join(30_000);
            assertThat(failures).isEmpty();
            assertThat(index.size()).isEqualTo(n);
            assertThat(index.memoryBytes()).isGreaterThan((long) n * DIM * 4);
            double recall = recallAgainstFlat(index, range(n), vectors, gaussian(random, 20, DIM), 10, n, Set.of());
            assertThat(recall).isGreaterThanOrEqualTo(0.9);
        }
    }

    private static long[] range(int n) {
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = i;
        }
        return out;
    }

    @Test
    void openRejectsOtherIndexesAndBadFiles() throws IOException {
        assertThatThrownBy(() -> HnswlibIndex.open(tmp.resolve("nothing"))).isInstanceOf(IOException.class);
        Path other = tmp.resolve("other");
        IndexFiles.commit(other, "flat", new Properties(), Map.of());
        assertThatThrownBy(() -> HnswlibIndex.open(other)).isInstanceOf(IOException.class).hasMessageContaining("flat");

        Path dir = tmp.resolve("saved");
        try (HnswlibIndex index = new HnswlibIndex(DIM, Similarity.DOT_PRODUCT, Options.defaults())) {
            index.addAll(ids(50, 0), gaussian(new Random(seed("hnswlib-corrupt")), 50, DIM));
            index.save(dir);
        }
        Path graph;
        try (var files = Files.list(dir)) {
            graph = files.filter(p -> p.getFileName().toString().startsWith("graph.")).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(graph);
        Files.write(graph, Arrays.copyOf(bytes, bytes.length / 2));
        assertThatThrownBy(() -> HnswlibIndex.open(dir)).isInstanceOf(IOException.class);
    }

    @Test
    void optionsAreChecked() {
        assertThatThrownBy(() -> Options.defaults().withM(1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Options.defaults().withEfConstruction(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Options.defaults().withInitialCapacity(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new HnswlibIndex(0, Similarity.COSINE, Options.defaults())).isInstanceOf(IllegalArgumentException.class);
    }
}
