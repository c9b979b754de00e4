package dev.attend.index;

/**
 * How a query scores a vector; every index ranks by a score where higher is better. Inner product
 * (maximum inner product search) is the first-class case: attention logits are inner products.
 */
public enum Similarity {
    /** q . v (MIPS). */
    DOT_PRODUCT,
    /** q . v / (|q| |v|); indexes store unit vectors and score them by inner product. */
    COSINE,
    /** -|q - v|^2, so that nearer ranks higher. */
    EUCLIDEAN;

    /** The score of {@code v} for {@code q}, computed directly (for tests and small sets). */
    public float score(float[] q, float[] v) {
        double dot = 0;
        double qq = 0;
        double vv = 0;
        double l2 = 0;
        for (int i = 0; i < q.length; i++) {
            dot += (double) q[i] * v[i];
            qq += (double) q[i] * q[i];
            vv += (double) v[i] * v[i];
            double diff = (double) q[i] - v[i];
            l2 += diff * diff;
        }
        return switch (this) {
            case DOT_PRODUCT -> (float) dot;
            case COSINE -> qq == 0 || vv == 0 ? 0f : (float) (dot / Math.sqrt(qq * vv));
            case EUCLIDEAN -> (float) -l2;
        };
    }
}
