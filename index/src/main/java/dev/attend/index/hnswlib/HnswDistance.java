package dev.attend.index.hnswlib;

import com.github.jelmerk.hnswlib.core.DistanceFunction;
import dev.attend.index.Similarity;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The distance hnswlib ranks by (lower is nearer), on the Vector API, counting every computation
 * against the calling thread's {@link Meter}.
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
    private static final VectorSpecies<Float> SPECIES = dev.attend.gpu.Simd.FLOATS;

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
            case DOT_PRODUCT -> -dot(a, b);
            case COSINE -> 1 - dot(a, b);
            case EUCLIDEAN -> squaredL2(a, b);
        };
    }

    /** The similarity of a distance this function returned. */
    float score(float distance) {
        return switch (similarity) {
            case DOT_PRODUCT, EUCLIDEAN -> -distance;
            case COSINE -> 1 - distance;
        };
    }

    static float dot(float[] a, float[] b) {
        int n = a.length;
        int step = SPECIES.length();
        int i = 0;
        FloatVector acc0 = FloatVector.zero(SPECIES);
        FloatVector acc1 = FloatVector.zero(SPECIES);
        for (int bound = n - 2 * step; i <= bound; i += 2 * step) {
            acc0 = FloatVector.fromArray(SPECIES, a, i).fma(FloatVector.fromArray(SPECIES, b, i), acc0);
            acc1 = FloatVector.fromArray(SPECIES, a, i + step).fma(FloatVector.fromArray(SPECIES, b, i + step), acc1);
        }
        for (int bound = SPECIES.loopBound(n); i < bound; i += step) {
            acc0 = FloatVector.fromArray(SPECIES, a, i).fma(FloatVector.fromArray(SPECIES, b, i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    static float squaredL2(float[] a, float[] b) {
        int n = a.length;
        int step = SPECIES.length();
        int i = 0;
        FloatVector acc0 = FloatVector.zero(SPECIES);
        FloatVector acc1 = FloatVector.zero(SPECIES);
        for (int bound = n - 2 * step; i <= bound; i += 2 * step) {
            FloatVector d0 = FloatVector.fromArray(SPECIES, a, i).sub(FloatVector.fromArray(SPECIES, b, i));
            FloatVector d1 = FloatVector.fromArray(SPECIES, a, i + step).sub(FloatVector.fromArray(SPECIES, b, i + step));
            acc0 = d0.fma(d0, acc0);
            acc1 = d1.fma(d1, acc1);
        }
        for (int bound = SPECIES.loopBound(n); i < bound; i += step) {
            FloatVector d = FloatVector.fromArray(SPECIES, a, i).sub(FloatVector.fromArray(SPECIES, b, i));
            acc0 = d.fma(d, acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float d = a[i] - b[i];
            s += d * d;
        }
        return s;
    }
}
