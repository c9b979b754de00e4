package dev.attend.gpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Vector API kernels on float arrays that the scorers and the graph indexes share. */
public final class VectorMath {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    private VectorMath() {
    }

    /**
     * a[aOffset, aOffset + length) . b[bOffset, bOffset + length), with four accumulators: four
     * independent multiply-add chains hide the FMA latency that one chain would wait on.
     */
    public static float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
        int lanes = SPECIES.length();
        FloatVector a0 = FloatVector.zero(SPECIES);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        int c = 0;
        for (; c + 4 * lanes <= length; c += 4 * lanes) {
            a0 = FloatVector.fromArray(SPECIES, a, aOffset + c).fma(FloatVector.fromArray(SPECIES, b, bOffset + c), a0);
            a1 = FloatVector.fromArray(SPECIES, a, aOffset + c + lanes).fma(FloatVector.fromArray(SPECIES, b, bOffset + c + lanes), a1);
            a2 = FloatVector.fromArray(SPECIES, a, aOffset + c + 2 * lanes)
                    .fma(FloatVector.fromArray(SPECIES, b, bOffset + c + 2 * lanes), a2);
            a3 = FloatVector.fromArray(SPECIES, a, aOffset + c + 3 * lanes)
                    .fma(FloatVector.fromArray(SPECIES, b, bOffset + c + 3 * lanes), a3);
        }
        for (; c + lanes <= length; c += lanes) {
            a0 = FloatVector.fromArray(SPECIES, a, aOffset + c).fma(FloatVector.fromArray(SPECIES, b, bOffset + c), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; c < length; c++) {
            s += a[aOffset + c] * b[bOffset + c];
        }
        return s;
    }
}
