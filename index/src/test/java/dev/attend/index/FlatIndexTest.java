package dev.attend.index;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class FlatIndexTest extends VectorIndexContract {

    @Override
    protected VectorIndex create(int dim, Similarity similarity) {
        return new FlatIndex(dim, similarity, scorer);
    }

    @Override
    protected VectorIndex open(Path dir) throws Exception {
        return FlatIndex.open(dir, scorer);
    }

    @Override
    protected double minimumRecall() {
        return 0.999;
    }

    @Test
    void removedRowsAreSkippedAndCompacted() {
        try (FlatIndex index = new FlatIndex(2, Similarity.DOT_PRODUCT, scorer)) {
            int n = 5000;
            long[] ids = new long[n];
            float[][] v = new float[n][];
            for (int i = 0; i < n; i++) {
                ids[i] = i;
                v[i] = new float[] {i, 1};
            }
            index.addAll(ids, v);
            for (int i = n - 1; i >= 2000; i--) {
                index.remove(i);
            }
            assertThat(index.size()).isEqualTo(2000);
            assertThat(index.search(new float[] {1, 0}, 3, 10).ids()).containsExactly(1999, 1998, 1997);
            // Compaction runs once more than 1,024 rows and a quarter of the store are removed: the
            // scan covers the live rows plus at most 1,024 not yet compacted away.
            assertThat(index.search(new float[] {1, 0}, 3, 10).stats().distanceComputations()).isBetween(2000L, 3024L);
        }
    }
}
