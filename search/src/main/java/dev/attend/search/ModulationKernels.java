package dev.attend.search;

import dev.attend.gpu.Simd;
import dev.attend.gpu.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The per-dimension kernels of {@link LexSemModulation}'s softmax (max, shifted exponentials, scaling), shared with
 * its training. Only IEEE-exact lane operations are used (add, multiply, fused multiply-add, divide, max,
 * conversions; the exponential is a polynomial of those) and lanes are summed in a fixed order
 * ({@link VectorMath#sumInLaneOrder}): an input gives the same bits whether the JIT has compiled the code or not,
 * which keeps training reproducible (the Vector API's own {@code EXP} and {@code reduceLanes(ADD)} differ between
 * the interpreter and compiled code). Dot products and axpy are {@link VectorMath}'s.
 */
final class ModulationKernels {

    static final VectorSpecies<Float> SPECIES = Simd.FLOATS;
    static final int LANES = SPECIES.length();

    private ModulationKernels() {
    }

    /** max of {@code a[0, n)}. */
    static float max(float[] a, int n) {
        int k = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= LANES) {
            FloatVector mv = FloatVector.fromArray(SPECIES, a, 0);
            for (k = LANES; k + LANES <= n; k += LANES) {
                mv = mv.max(FloatVector.fromArray(SPECIES, a, k));
            }
            m = mv.reduceLanes(VectorOperators.MAX); // order-free: exact
        }
        for (; k < n; k++) {
            m = Math.max(m, a[k]);
        }
        return m;
    }

    /** {@code a[k] = exp(a[k] - shift)} for {@code k < n} ({@code shift} at least every {@code a[k]}); returns their sum. */
    static double expShifted(float[] a, float shift, int n) {
        FloatVector sv = FloatVector.broadcast(SPECIES, shift);
        FloatVector acc = FloatVector.zero(SPECIES);
        int k = 0;
        for (; k + LANES <= n; k += LANES) {
            FloatVector e = expNonPositive(FloatVector.fromArray(SPECIES, a, k).sub(sv));
            e.intoArray(a, k);
            acc = acc.add(e);
        }
        double sum = VectorMath.sumInLaneOrder(acc);
        for (; k < n; k++) {
            a[k] = expNonPositive(a[k] - shift);
            sum += a[k];
        }
        return sum;
    }

    private static final float EXP_LO = -87.33654f; // ln(Float.MIN_NORMAL): below, the result is clamped there
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f; // few bits: n * LN2_HI is exact
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    /**
     * {@code e^x} for {@code x <= 0} (Cephes' expf: {@code x = n ln 2 + r}, a degree-7 polynomial in {@code r}, times
     * {@code 2^n}), within a few ulp; below {@code ln(Float.MIN_NORMAL)} it returns about {@code Float.MIN_NORMAL}
     * rather than a subnormal or zero. Only exact lane operations, so the interpreter and compiled code agree.
     */
    static FloatVector expNonPositive(FloatVector x) {
        FloatVector xc = x.max(EXP_LO);
        FloatVector nf = (FloatVector) xc.mul(LOG2E).sub(0.5f).convert(VectorOperators.F2I, 0).convert(VectorOperators.I2F, 0);
        FloatVector r = nf.fma(FloatVector.broadcast(SPECIES, -LN2_HI), xc);
        r = nf.fma(FloatVector.broadcast(SPECIES, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(SPECIES, P0), FloatVector.broadcast(SPECIES, P1));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P2));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P3));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P4));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P5));
        p = p.fma(r.mul(r), r).add(1f);
        IntVector n = (IntVector) nf.convert(VectorOperators.F2I, 0);
        FloatVector pow2n = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(pow2n);
    }

    /** The scalar {@link #expNonPositive(FloatVector)}, operation for operation. */
    static float expNonPositive(float x) {
        float xc = Math.max(x, EXP_LO);
        float nf = (float) (int) (xc * LOG2E - 0.5f);
        float r = Math.fma(nf, -LN2_HI, xc);
        r = Math.fma(nf, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        p = Math.fma(p, r * r, r) + 1f;
        return p * Float.intBitsToFloat(((int) nf + 127) << 23);
    }

    /** {@code a[0, n) *= f}. */
    static void scale(float[] a, float f, int n) {
        int k = 0;
        for (; k + LANES <= n; k += LANES) {
            FloatVector.fromArray(SPECIES, a, k).mul(f).intoArray(a, k);
        }
        for (; k < n; k++) {
            a[k] *= f;
        }
    }
}
