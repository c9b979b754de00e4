package dev.attend.index;

import java.util.Arrays;

/**
 * Turns every {@link Similarity} into an inner product, so that one scorer serves them all: cosine
 * stores unit vectors; Euclidean stores {@code [v, -|v|^2/2]} and asks with {@code [q, 1]}, whose inner
 * product ranks exactly as {@code -|q - v|^2} and converts back to it.
 */
public record SimilarityEncoding(Similarity similarity, int dim) {

    /** Dimension of the stored (encoded) vectors. */
    public int storedDim() {
        return similarity == Similarity.EUCLIDEAN ? dim + 1 : dim;
    }

    /** The stored form of {@code v}; the caller has checked its dimension and finiteness. */
    public float[] encodeVector(float[] v) {
        return switch (similarity) {
            case DOT_PRODUCT -> v.clone();
            case COSINE -> {
                double norm = norm(v);
                if (norm == 0) {
                    throw new IllegalArgumentException("a zero vector has no direction: it cannot be indexed for cosine similarity");
                }
                yield scaled(v, 1 / norm);
            }
            case EUCLIDEAN -> {
                float[] out = Arrays.copyOf(v, dim + 1);
                double sq = 0;
                for (float x : v) {
                    sq += (double) x * x;
                }
                out[dim] = (float) (-sq / 2);
                yield out;
            }
        };
    }

    /** The query form of {@code q}. */
    public float[] encodeQuery(float[] q) {
        return switch (similarity) {
            case DOT_PRODUCT -> q;
            case COSINE -> {
                double norm = norm(q);
                yield norm == 0 ? q.clone() : scaled(q, 1 / norm);
            }
            case EUCLIDEAN -> {
                float[] out = Arrays.copyOf(q, dim + 1);
                out[dim] = 1f;
                yield out;
            }
        };
    }

    /** The similarity score from the encoded inner product. */
    public float decodeScore(float innerProduct, float[] query) {
        if (similarity != Similarity.EUCLIDEAN) {
            return innerProduct;
        }
        double sq = 0;
        for (int i = 0; i < dim; i++) {
            sq += (double) query[i] * query[i];
        }
        return (float) (2.0 * innerProduct - sq);
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }

    private static float[] scaled(float[] v, double f) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] * f);
        }
        return out;
    }
}
