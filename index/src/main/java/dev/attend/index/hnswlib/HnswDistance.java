package dev.attend.index.hnswlib;

import com.github.jelmerk.hnswlib.core.DistanceFunction;
import dev.attend.gpu.VectorMath;
import dev.attend.index.Similarity;

/**
 * The distance hnswlib ranks by (lower is nearer), computed by the gpu module's {@link VectorMath} kernels, counting
 * every computation against the calling thread's {@link Meter}.
 *
 * <p>{@link Similarity#DOT_PRODUCT}: {@code -q.v}; {@link Similarity#COSINE}: {@code 1 - q.v} of unit
 * vectors; {@link Similarity#EUCLIDEAN}: {@code |q - v|^2}. {@link #score} turns a distance back into the
 * similarity. Once the meter's limit is reached a call returns {@code +infinity} without computing
 * anything: the search then cannot improve its candidates and stops, keeping the ones it has.
 *
 * <p>Serialised with the graph (hnswlib saves its distance function): keep the class name and fields.
 */
final class HnswDistance implements DistanceFunction<float[], Float> {

    private static final long serialVersionUID = 1L;

    /** Distance computations of the current thread, and its limit (unlimited outside a search). */
    static final class Meter {
        long spent;
        long limit = Long.MAX_VALUE;
    }

    static final ThreadLocal<Meter> METER = ThreadLocal.withInitial(Meter::new);

    private final Similarity similarity;

    HnswDistance(Similarity similarity) {
        this.similarity = similarity;
    }

    Similarity similarity() {
        return similarity;
    }

    @Override
    public Float distance(float[] a, float[] b) {
        Meter meter = METER.get();
        if (meter.spent >= meter.limit) {
            return Float.POSITIVE_INFINITY;
        }
        meter.spent++;
        return switch (similarity) {
            case DOT_PRODUCT -> -VectorMath.dot(a, 0, b, 0, a.length);
            case COSINE -> 1 - VectorMath.dot(a, 0, b, 0, a.length);
            case EUCLIDEAN -> VectorMath.squaredL2(a, b);
        };
    }

    /** The similarity of a distance this function returned. */
    float score(float distance) {
        return switch (similarity) {
            case DOT_PRODUCT, EUCLIDEAN -> -distance;
            case COSINE -> 1 - distance;
        };
    }
}
