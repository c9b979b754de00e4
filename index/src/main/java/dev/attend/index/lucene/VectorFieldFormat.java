package dev.attend.index.lucene;

import dev.attend.index.Similarity;
import dev.attend.index.lucene.LuceneVectorIndex.Options;
import dev.attend.index.lucene.LuceneVectorIndex.Quantization;
import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.lucene104.Lucene104Codec;
import org.apache.lucene.codecs.lucene104.Lucene104HnswScalarQuantizedVectorsFormat;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.index.VectorSimilarityFunction;

/** How a {@link LuceneVectorIndex} writes its vector field: Lucene's similarity function, HNSW format and codec. */
final class VectorFieldFormat {

    private VectorFieldFormat() {
    }

    /** Lucene's function for {@code similarity} (cosine vectors are stored as unit vectors). */
    static VectorSimilarityFunction function(Similarity similarity) {
        return switch (similarity) {
            case DOT_PRODUCT -> VectorSimilarityFunction.MAXIMUM_INNER_PRODUCT;
            case COSINE -> VectorSimilarityFunction.DOT_PRODUCT;
            case EUCLIDEAN -> VectorSimilarityFunction.EUCLIDEAN;
        };
    }

    static KnnVectorsFormat vectorsFormat(Options options) {
        if (options.quantization() == Quantization.NONE) {
            return new Lucene99HnswVectorsFormat(options.m(), options.beamWidth());
        }
        return new Lucene104HnswScalarQuantizedVectorsFormat(options.quantization().encoding, options.m(), options.beamWidth());
    }

    /** The default codec with this index's HNSW parameters for the vector field (readers find the format by name). */
    static Codec codec(KnnVectorsFormat format) {
        return new Lucene104Codec() {
            @Override
            public KnnVectorsFormat getKnnVectorsFormatForField(String field) {
                return format;
            }
        };
    }
}
