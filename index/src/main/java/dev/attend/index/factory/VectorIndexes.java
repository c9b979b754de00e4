package dev.attend.index.factory;

import dev.attend.gpu.Scorer;
import dev.attend.index.FlatIndex;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.hnswlib.HnswlibIndex;
import dev.attend.index.lucene.LuceneVectorIndex;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * One place that builds an empty {@link VectorIndex} of a given {@link IndexKind}: flat, hnswlib or lucene.
 *
 * <p>The attention-aware index ({@link dev.attend.index.graph.AttentionAwareIndex}) is not built here: its graph
 * is learnt from training queries, so it has its own {@code build(dim, similarity, params, ids, keys, queries,
 * scorer, progress)}.
 */
public final class VectorIndexes {

    private VectorIndexes() {
    }

    /**
     * What the kinds need beyond dimension and similarity; each kind reads its own part.
     *
     * @param scorer    the scorer a flat index scores on (shared, not owned: closing the index leaves it open);
     *                  required for {@link IndexKind#FLAT}
     * @param hnswlib   build parameters of {@link IndexKind#HNSWLIB}
     * @param lucene    build parameters of {@link IndexKind#LUCENE}
     * @param directory where a Lucene index lives ({@link LuceneVectorIndex#create}), or null to keep it in memory
     */
    public record Options(Scorer scorer, HnswlibIndex.Options hnswlib, LuceneVectorIndex.Options lucene, Path directory) {

        public Options {
            Objects.requireNonNull(hnswlib, "hnswlib");
            Objects.requireNonNull(lucene, "lucene");
        }

        /** No scorer, each index's default parameters, Lucene in memory. */
        public static Options defaults() {
            return new Options(null, HnswlibIndex.Options.defaults(), LuceneVectorIndex.Options.defaults(), null);
        }

        public Options withScorer(Scorer value) {
            return new Options(value, hnswlib, lucene, directory);
        }

        public Options withHnswlib(HnswlibIndex.Options value) {
            return new Options(scorer, value, lucene, directory);
        }

        public Options withLucene(LuceneVectorIndex.Options value) {
            return new Options(scorer, hnswlib, value, directory);
        }

        public Options withDirectory(Path value) {
            return new Options(scorer, hnswlib, lucene, value);
        }

        /** Sizes what grows by doubling for {@code n} vectors (hnswlib's initial capacity; at least 1). */
        public Options withExpectedSize(int n) {
            return withHnswlib(hnswlib.withInitialCapacity(Math.max(1, n)));
        }
    }

    /**
     * A new, empty index of {@code kind}.
     *
     * @throws IllegalArgumentException for a flat index without a scorer, or a dimension or options the kind refuses
     * @throws UncheckedIOException     when a Lucene index cannot be created in {@link Options#directory()}
     */
    public static VectorIndex create(IndexKind kind, int dim, Similarity similarity, Options options) {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(options, "options");
        return switch (kind) {
            case FLAT -> {
                if (options.scorer() == null) {
                    throw new IllegalArgumentException("a flat index needs a scorer (VectorIndexes.Options.withScorer)");
                }
                yield new FlatIndex(dim, similarity, options.scorer());
            }
            case HNSWLIB -> new HnswlibIndex(dim, similarity, options.hnswlib());
            case LUCENE -> {
                if (options.directory() == null) {
                    yield LuceneVectorIndex.inMemory(dim, similarity, options.lucene());
                }
                try {
                    yield LuceneVectorIndex.create(options.directory(), dim, similarity, options.lucene());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
    }
}
