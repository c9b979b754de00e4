package dev.attend.index.lucene;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.index.IndexFiles;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.lucene.LuceneVectorIndex.Options;
import dev.attend.index.lucene.LuceneVectorIndex.Quantization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class LuceneVectorIndexTest extends ApproximateIndexContract {

    private final AtomicInteger dirs = new AtomicInteger();

    /** Alternates between an on-disk (memory-mapped) index and an in-memory one, so the contract covers both. */
    @Override
    protected VectorIndex newIndex(int dim, Similarity similarity) {
        try {
            int n = dirs.incrementAndGet();
            return n % 2 == 0
                    ? LuceneVectorIndex.inMemory(dim, similarity, Options.defaults())
                    : LuceneVectorIndex.create(tmp.resolve("home-" + n), dim, similarity, Options.defaults());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected VectorIndex open(Path dir) throws IOException {
        return LuceneVectorIndex.open(dir);
    }

    @ParameterizedTest
    @EnumSource(value = Quantization.class, names = {"INT8", "INT7", "INT4"})
    void quantizedIndexesRescoreExactly(Quantization quantization) {
        Random random = new Random(seed("quantized-" + quantization));
        int n = 1000;
        float[][] vectors = gaussian(random, n, DIM);
        float[][] queries = gaussian(random, 30, DIM);
        long[] ids = ids(n, 3);
        // One similarity per encoding keeps the run short; together they cover all three.
        Similarity similarity = Similarity.values()[quantization.ordinal() % Similarity.values().length];
        {
            try (LuceneVectorIndex index = LuceneVectorIndex.inMemory(DIM, similarity, Options.defaults().withQuantization(quantization))) {
                index.addAll(ids, vectors);
                // Exact scores are checked inside; recall is lower than float32 because the graph ranks by quantized scores.
                double recall = recallAgainstFlat(index, ids, vectors, queries, 10, n, Set.of());
                System.out.printf("lucene %s %s recall@10 at budget %d: %.3f%n", quantization, similarity, n, recall);
                assertThat(recall).isGreaterThanOrEqualTo(quantization == Quantization.INT4 ? 0.6 : 0.8);
                assertThat(index.search(queries[0], 10, n).stats().method()).isEqualTo("lucene-hnsw-" + quantization.name().toLowerCase());
            }
        }
    }

    @Test
    void budgetIsSharedAcrossSegments() {
        Random random = new Random(seed("segments"));
        int batches = 6;
        int per = 250;
        float[][] vectors = gaussian(random, batches * per, DIM);
        long[] ids = ids(batches * per, 0);
        float[][] queries = gaussian(random, 30, DIM);
        try (LuceneVectorIndex index = LuceneVectorIndex.inMemory(DIM, Similarity.DOT_PRODUCT, Options.defaults())) {
            for (int b = 0; b < batches; b++) {
                index.addAll(Arrays.copyOfRange(ids, b * per, (b + 1) * per),
                        Arrays.copyOfRange(vectors, b * per, (b + 1) * per));
                index.search(queries[0], 1, 10); // a refresh: each batch becomes a segment
            }
            assertThat(index.segmentCount()).isGreaterThan(1);
            for (int budget : new int[] {1, 3, 17, 100, 999, 5000, 100_000}) {
                SearchResult r = index.search(queries[1], 10, budget);
                assertWellFormed(r, 10, index.size());
                assertThat(r.stats().distanceComputations()).isLessThanOrEqualTo(budget);
            }
            double split = recallAgainstFlat(index, ids, vectors, queries, 10, 2 * batches * per, Set.of());
            index.forceMerge();
            assertThat(index.segmentCount()).isEqualTo(1);
            double merged = recallAgainstFlat(index, ids, vectors, queries, 10, 2 * batches * per, Set.of());
            System.out.printf("lucene recall@10 over %d segments %.3f, merged %.3f%n", batches, split, merged);
            assertThat(split).isGreaterThanOrEqualTo(0.9);
            assertThat(merged).isGreaterThanOrEqualTo(0.9);
        }
    }

    @Test
    void anIndexLivesInItsDirectoryAndSaveCommitsThere() throws IOException {
        Random random = new Random(seed("home"));
        float[][] vectors = gaussian(random, 300, DIM);
        Path home = tmp.resolve("home");
        try (LuceneVectorIndex index = LuceneVectorIndex.create(home, DIM, Similarity.EUCLIDEAN, Options.defaults().withM(8).withBeamWidth(50))) {
            index.addAll(ids(200, 0), Arrays.copyOf(vectors, 200));
            index.save(home);
        }
        assertThat(LuceneFolders.list(home)).hasSize(1);
        try (LuceneVectorIndex index = LuceneVectorIndex.open(home)) {
            assertThat(index.size()).isEqualTo(200);
            assertThat(index.options().m()).isEqualTo(8);
            assertThat(index.options().beamWidth()).isEqualTo(50);
            // One open index per directory (Lucene's write lock).
            assertThatThrownBy(() -> LuceneVectorIndex.open(home)).isInstanceOf(IOException.class);
            index.addAll(ids(100, 10_000), Arrays.copyOfRange(vectors, 200, 300));
            index.remove(0);
            index.save(home); // a commit in place
            index.add(77_777, vectors[0]); // never saved: lost on close
        }
        assertThat(LuceneFolders.list(home)).hasSize(1);
        try (LuceneVectorIndex index = LuceneVectorIndex.open(home)) {
            assertThat(index.size()).isEqualTo(299);
            assertThat(index.contains(0)).isFalse();
            assertThat(index.contains(10_000)).isTrue();
            assertThat(index.contains(77_777)).isFalse();
        }
    }

    @Test
    void savingElsewhereCopiesAPointInTimeAndLeavesHomeAlone() throws IOException {
        Random random = new Random(seed("export"));
        float[][] vectors = gaussian(random, 600, DIM);
        float[][] queries = gaussian(random, 10, DIM);
        Path home = tmp.resolve("home");
        Path export = tmp.resolve("export");
        List<SearchResult> expected = new ArrayList<>();
        try (LuceneVectorIndex index = LuceneVectorIndex.create(home, DIM, Similarity.COSINE, Options.defaults())) {
            index.addAll(ids(500, 0), Arrays.copyOf(vectors, 500));
            index.save(home);
            index.addAll(ids(100, 50_000), Arrays.copyOfRange(vectors, 500, 600));
            for (int i = 0; i < 500; i += 5) {
                index.remove(7L * i); // deletes since the last refresh must be in the copy too
            }
            index.save(export);
            for (float[] q : queries) {
                expected.add(index.search(q, 10, 1000));
            }
            index.save(export); // again: replaces the copy, deletes the older folder
            assertThat(LuceneFolders.list(export)).hasSize(1);
        }
        try (LuceneVectorIndex copy = LuceneVectorIndex.open(export)) {
            assertThat(copy.size()).isEqualTo(500);
            assertThat(copy.contains(0)).isFalse();
            assertThat(copy.contains(50_000)).isTrue();
            for (int i = 0; i < queries.length; i++) {
                assertThat(copy.search(queries[i], 10, 1000)).isEqualTo(expected.get(i));
            }
        }
        try (LuceneVectorIndex original = LuceneVectorIndex.open(home)) {
            assertThat(original.size()).isEqualTo(500);
            assertThat(original.contains(0)).isTrue();
            assertThat(original.contains(50_000)).isFalse();
        }
    }

    @Test
    void anIndexNeverSavedLeavesNothingAndTheOldOneStays() throws IOException {
        Random random = new Random(seed("unsaved"));
        float[][] vectors = gaussian(random, 50, DIM);
        Path home = tmp.resolve("home");
        try (LuceneVectorIndex index = LuceneVectorIndex.create(home, DIM, Similarity.DOT_PRODUCT, Options.defaults())) {
            index.addAll(ids(20, 0), Arrays.copyOf(vectors, 20));
            index.save(home);
        }
        try (LuceneVectorIndex replacement = LuceneVectorIndex.create(home, DIM, Similarity.DOT_PRODUCT, Options.defaults())) {
            replacement.addAll(ids(30, 1_000), Arrays.copyOfRange(vectors, 20, 50));
            assertThat(LuceneFolders.list(home)).hasSize(2);
        }
        assertThat(LuceneFolders.list(home)).hasSize(1);
        try (LuceneVectorIndex index = LuceneVectorIndex.open(home)) {
            assertThat(index.size()).isEqualTo(20);
        }
        try (LuceneVectorIndex replacement = LuceneVectorIndex.create(home, DIM, Similarity.DOT_PRODUCT, Options.defaults())) {
            replacement.addAll(ids(30, 1_000), Arrays.copyOfRange(vectors, 20, 50));
            replacement.save(home);
        }
        assertThat(LuceneFolders.list(home)).hasSize(1);
        try (LuceneVectorIndex index = LuceneVectorIndex.open(home)) {
            assertThat(index.size()).isEqualTo(30);
        }
    }

    @Test
    void openRejectsOtherIndexesAndMissingOnes() throws IOException {
        assertThatThrownBy(() -> LuceneVectorIndex.open(tmp.resolve("nothing"))).isInstanceOf(IOException.class);
        Path other = tmp.resolve("other");
        IndexFiles.commit(other, "flat", new Properties(), Map.of());
        assertThatThrownBy(() -> LuceneVectorIndex.open(other)).isInstanceOf(IOException.class).hasMessageContaining("flat");
        assertThat(Files.exists(other)).isTrue();
    }

    @Test
    void optionsAreChecked() {
        assertThatThrownBy(() -> Options.defaults().withM(1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Options.defaults().withBeamWidth(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LuceneVectorIndex.inMemory(0, Similarity.COSINE, Options.defaults())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LuceneVectorIndex.inMemory(5000, Similarity.COSINE, Options.defaults()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dimensions");
    }
}
