package dev.attend.index.factory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.SimdScorer;
import dev.attend.index.FlatIndex;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.hnswlib.HnswlibIndex;
import dev.attend.index.lucene.LuceneVectorIndex;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VectorIndexesTest {

    @Test
    void everyKindIsBuiltEmptyWithItsDimensionAndSimilarity(@TempDir Path dir) {
        try (SimdScorer scorer = new SimdScorer(1)) {
            VectorIndexes.Options options = VectorIndexes.Options.defaults().withScorer(scorer).withExpectedSize(10);
            for (IndexKind kind : IndexKind.values()) {
                try (VectorIndex index = VectorIndexes.create(kind, 3, Similarity.COSINE, options)) {
                    assertThat(index.dim()).isEqualTo(3);
                    assertThat(index.similarity()).isEqualTo(Similarity.COSINE);
                    assertThat(index.size()).isZero();
                    index.add(7, new float[] {1, 0, 0});
                    assertThat(index.search(new float[] {1, 0, 0}, 1, 100).ids()).containsExactly(7L);
                }
            }
            try (VectorIndex flat = VectorIndexes.create(IndexKind.FLAT, 2, Similarity.DOT_PRODUCT, options);
                 VectorIndex hnsw = VectorIndexes.create(IndexKind.HNSWLIB, 2, Similarity.DOT_PRODUCT, options);
                 VectorIndex lucene = VectorIndexes.create(IndexKind.LUCENE, 2, Similarity.DOT_PRODUCT, options.withDirectory(dir))) {
                assertThat(flat).isInstanceOf(FlatIndex.class);
                assertThat(((HnswlibIndex) hnsw).options().initialCapacity()).isEqualTo(10);
                assertThat(lucene).isInstanceOf(LuceneVectorIndex.class);
                assertThat(Files.exists(dir)).isTrue();
            }
        }
    }

    @Test
    void aFlatIndexNeedsAScorerAndNamesParse() {
        assertThatThrownBy(() -> VectorIndexes.create(IndexKind.FLAT, 2, Similarity.DOT_PRODUCT, VectorIndexes.Options.defaults()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scorer");
        assertThat(IndexKind.parse("HnswLib")).isEqualTo(IndexKind.HNSWLIB);
        assertThat(IndexKind.LUCENE.id()).isEqualTo("lucene");
        assertThatThrownBy(() -> IndexKind.parse("attention")).hasMessageContaining("flat, hnswlib, lucene");
    }
}
