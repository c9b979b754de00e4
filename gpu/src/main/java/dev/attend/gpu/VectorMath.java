package dev.attend.gpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The engine's SIMD kernels on float arrays (Vector API, at {@link Simd#FLOATS}' width): dot products (and a
 * reproducible one in double), squared distance, axpy, weighted sums of rows and small matrix products, shared by the
 * scorers, the vector store, the indexes, the language model, the recommender and the trainers, so that each loop
 * exists once.
 */
public final class VectorMath {

    private static final VectorSpecies<Float> SPECIES = Simd.FLOATS;
    /** Ints and float16 bits (as shorts) lane for lane with {@link #SPECIES}. */
    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, SPECIES.vectorShape());
    private static final VectorSpecies<Short> HALVES = VectorSpecies.of(short.class, VectorShape.forBitSize(SPECIES.vectorBitSize() / 2));

    private VectorMath() {
    }

    /**
     * {@code dst[offset + i] = Float.float16ToFloat(src[from + i])} for {@code i < count}, the same bits for every
     * float16 value (subnormals, infinities and NaN payloads included). In 512-bit vectors an in-cache row of 128
     * takes 11 ns against the compiler's own loop's 18 (development machine); narrower vectors lose to that loop.
     */
    public static void widenHalves(short[] src, int from, float[] dst, int offset, int count) {
        int lanes = SPECIES.length();
        int i = 0;
        for (; lanes >= 16 && i + lanes <= count; i += lanes) {
            IntVector x = (IntVector) ShortVector.fromArray(HALVES, src, from + i).convertShape(VectorOperators.ZERO_EXTEND_S2I, INTS, 0);
            IntVector magnitude = x.and(0x7fff);
            IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
            // Normal numbers: the exponent re-biased from 15 to 127; infinities and NaNs: the exponent all ones, and
            // NaNs made quiet as Float.float16ToFloat makes them.
            IntVector bits = shifted.add(0x38000000).blend(shifted.add(0x70000000), magnitude.compare(VectorOperators.GE, 0x7c00))
                    .lanewise(VectorOperators.OR, 0x00400000, magnitude.compare(VectorOperators.GT, 0x7c00));
            // Zeros and subnormals: the significand times 2^-24, exact in float32 (no subnormal operand on the way).
            IntVector small = ((FloatVector) magnitude.convert(VectorOperators.I2F, 0)).mul(0x1p-24f).reinterpretAsInts();
            bits = bits.blend(small, magnitude.compare(VectorOperators.LT, 0x400));
            bits.or(x.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats().intoArray(dst, offset + i);
        }
        for (; i < count; i++) {
            dst[offset + i] = Float.float16ToFloat(src[from + i]);
        }
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

    /**
     * The largest {@code |a[i]|} of {@code a[offset, offset + length)}, NaN when any is NaN: one pass that lets input
     * checks accept a whole vector at once (the exact, per-component checks run only on a vector that may fail).
     */
    public static float maxAbs(float[] a, int offset, int length) {
        FloatVector m = FloatVector.zero(SPECIES);
        int c = 0;
        for (int bound = SPECIES.loopBound(length); c < bound; c += SPECIES.length()) {
            m = m.max(FloatVector.fromArray(SPECIES, a, offset + c).abs());
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (; c < length; c++) {
            max = Math.max(max, Math.abs(a[offset + c]));
        }
        return max;
    }

    /**
     * {@code a[aOffset, aOffset + length) . b[bOffset, bOffset + length)} in double, reproducibly: one lane-wise
     * multiply-add chain whose lanes are added in lane order ({@link #sumInLaneOrder}), then the tail in double. An
     * input gives the same bits whether the JIT has compiled the code or not ({@link #dot}'s
     * {@code reduceLanes(ADD)} may add the lanes in another order once compiled): training that must repeat bit for
     * bit (LexSemBridge's modulation) and normalisation that must not depend on the JIT use it.
     */
    public static double dotOrdered(float[] a, int aOffset, float[] b, int bOffset, int length) {
        int lanes = SPECIES.length();
        FloatVector acc = FloatVector.zero(SPECIES);
        int c = 0;
        for (; c + lanes <= length; c += lanes) {
            acc = FloatVector.fromArray(SPECIES, a, aOffset + c).fma(FloatVector.fromArray(SPECIES, b, bOffset + c), acc);
        }
        double s = sumInLaneOrder(acc);
        for (; c < length; c++) {
            s += (double) a[aOffset + c] * b[bOffset + c];
        }
        return s;
    }

    /** The lanes of {@code v} added in lane order into a double: the same bits interpreted or compiled. */
    public static double sumInLaneOrder(FloatVector v) {
        double s = 0;
        for (int i = 0; i < SPECIES.length(); i++) {
            s += v.lane(i);
        }
        return s;
    }

    /**
     * {@code out[outOffset + r] = q . data[base + r * dim, base + (r + 1) * dim)} for {@code r < rows}: consecutive rows
     * against one query, each row summed as {@link #dot} sums it (the same bits). Two rows at a time share the query
     * loads, and each row keeps four accumulators: eight independent multiply-add chains hide the FMA latency
     * (measured about 25% faster than four rows with one chain each, which is latency-bound).
     */
    static void dotRows(float[] q, float[] data, int base, int dim, int rows, float[] out, int outOffset) {
        int r = 0;
        for (; r + 2 <= rows; r += 2) {
            dot2(q, data, base + r * dim, dim, out, outOffset + r);
        }
        if (r < rows) {
            out[outOffset + r] = dot(q, 0, data, base + r * dim, dim);
        }
    }

    /** out[at] = q . row at {@code o0}; out[at + 1] = q . the row after it. */
    private static void dot2(float[] q, float[] data, int o0, int dim, float[] out, int at) {
        int lanes = SPECIES.length();
        int o1 = o0 + dim;
        FloatVector a0 = FloatVector.zero(SPECIES);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        int c = 0;
        for (; c + 4 * lanes <= dim; c += 4 * lanes) {
            FloatVector q0 = FloatVector.fromArray(SPECIES, q, c);
            FloatVector q1 = FloatVector.fromArray(SPECIES, q, c + lanes);
            FloatVector q2 = FloatVector.fromArray(SPECIES, q, c + 2 * lanes);
            FloatVector q3 = FloatVector.fromArray(SPECIES, q, c + 3 * lanes);
            a0 = q0.fma(FloatVector.fromArray(SPECIES, data, o0 + c), a0);
            a1 = q1.fma(FloatVector.fromArray(SPECIES, data, o0 + c + lanes), a1);
            a2 = q2.fma(FloatVector.fromArray(SPECIES, data, o0 + c + 2 * lanes), a2);
            a3 = q3.fma(FloatVector.fromArray(SPECIES, data, o0 + c + 3 * lanes), a3);
            b0 = q0.fma(FloatVector.fromArray(SPECIES, data, o1 + c), b0);
            b1 = q1.fma(FloatVector.fromArray(SPECIES, data, o1 + c + lanes), b1);
            b2 = q2.fma(FloatVector.fromArray(SPECIES, data, o1 + c + 2 * lanes), b2);
            b3 = q3.fma(FloatVector.fromArray(SPECIES, data, o1 + c + 3 * lanes), b3);
        }
        for (; c + lanes <= dim; c += lanes) {
            FloatVector qv = FloatVector.fromArray(SPECIES, q, c);
            a0 = qv.fma(FloatVector.fromArray(SPECIES, data, o0 + c), a0);
            b0 = qv.fma(FloatVector.fromArray(SPECIES, data, o1 + c), b0);
        }
        float s0 = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        float s1 = b0.add(b1).add(b2.add(b3)).reduceLanes(VectorOperators.ADD);
        for (; c < dim; c++) {
            s0 += q[c] * data[o0 + c];
            s1 += q[c] * data[o1 + c];
        }
        out[at] = s0;
        out[at + 1] = s1;
    }

    /** {@code |a - b|^2} over the whole of {@code a} and {@code b} (of one length), with two accumulators. */
    public static float squaredL2(float[] a, float[] b) {
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

    /** {@code y[yOffset + i] += a * x[xOffset + i]} for {@code i < length}. */
    public static void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int length) {
        int lanes = SPECIES.length();
        FloatVector av = FloatVector.broadcast(SPECIES, a);
        int i = 0;
        for (; i + lanes <= length; i += lanes) {
            av.fma(FloatVector.fromArray(SPECIES, x, xOffset + i), FloatVector.fromArray(SPECIES, y, yOffset + i))
                    .intoArray(y, yOffset + i);
        }
        for (; i < length; i++) {
            y[yOffset + i] += a * x[xOffset + i];
        }
    }

    /**
     * {@code out[outOffset + c] += sum_s weights[s] * table[offsets[s] + c]} for {@code c < length}, {@code s < count}:
     * a weighted sum of rows of one table (a recommender's aggregate of the behaviours its search kept), eight (then
     * four) vectors of the output held in registers across all rows instead of read and written back per row: eight
     * independent multiply-add chains, where four waited on each other's latency for half the time.
     */
    public static void weightedSum(float[] table, int[] offsets, float[] weights, int count, int length, float[] out, int outOffset) {
        int lanes = SPECIES.length();
        int c = 0;
        for (; c + 8 * lanes <= length; c += 8 * lanes) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, out, outOffset + c);
            FloatVector a1 = FloatVector.fromArray(SPECIES, out, outOffset + c + lanes);
            FloatVector a2 = FloatVector.fromArray(SPECIES, out, outOffset + c + 2 * lanes);
            FloatVector a3 = FloatVector.fromArray(SPECIES, out, outOffset + c + 3 * lanes);
            FloatVector a4 = FloatVector.fromArray(SPECIES, out, outOffset + c + 4 * lanes);
            FloatVector a5 = FloatVector.fromArray(SPECIES, out, outOffset + c + 5 * lanes);
            FloatVector a6 = FloatVector.fromArray(SPECIES, out, outOffset + c + 6 * lanes);
            FloatVector a7 = FloatVector.fromArray(SPECIES, out, outOffset + c + 7 * lanes);
            for (int s = 0; s < count; s++) {
                FloatVector w = FloatVector.broadcast(SPECIES, weights[s]);
                int o = offsets[s] + c;
                a0 = w.fma(FloatVector.fromArray(SPECIES, table, o), a0);
                a1 = w.fma(FloatVector.fromArray(SPECIES, table, o + lanes), a1);
                a2 = w.fma(FloatVector.fromArray(SPECIES, table, o + 2 * lanes), a2);
                a3 = w.fma(FloatVector.fromArray(SPECIES, table, o + 3 * lanes), a3);
                a4 = w.fma(FloatVector.fromArray(SPECIES, table, o + 4 * lanes), a4);
                a5 = w.fma(FloatVector.fromArray(SPECIES, table, o + 5 * lanes), a5);
                a6 = w.fma(FloatVector.fromArray(SPECIES, table, o + 6 * lanes), a6);
                a7 = w.fma(FloatVector.fromArray(SPECIES, table, o + 7 * lanes), a7);
            }
            a0.intoArray(out, outOffset + c);
            a1.intoArray(out, outOffset + c + lanes);
            a2.intoArray(out, outOffset + c + 2 * lanes);
            a3.intoArray(out, outOffset + c + 3 * lanes);
            a4.intoArray(out, outOffset + c + 4 * lanes);
            a5.intoArray(out, outOffset + c + 5 * lanes);
            a6.intoArray(out, outOffset + c + 6 * lanes);
            a7.intoArray(out, outOffset + c + 7 * lanes);
        }
        for (; c + 4 * lanes <= length; c += 4 * lanes) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, out, outOffset + c);
            FloatVector a1 = FloatVector.fromArray(SPECIES, out, outOffset + c + lanes);
            FloatVector a2 = FloatVector.fromArray(SPECIES, out, outOffset + c + 2 * lanes);
            FloatVector a3 = FloatVector.fromArray(SPECIES, out, outOffset + c + 3 * lanes);
            for (int s = 0; s < count; s++) {
                FloatVector w = FloatVector.broadcast(SPECIES, weights[s]);
                int o = offsets[s] + c;
                a0 = w.fma(FloatVector.fromArray(SPECIES, table, o), a0);
                a1 = w.fma(FloatVector.fromArray(SPECIES, table, o + lanes), a1);
                a2 = w.fma(FloatVector.fromArray(SPECIES, table, o + 2 * lanes), a2);
                a3 = w.fma(FloatVector.fromArray(SPECIES, table, o + 3 * lanes), a3);
            }
            a0.intoArray(out, outOffset + c);
            a1.intoArray(out, outOffset + c + lanes);
            a2.intoArray(out, outOffset + c + 2 * lanes);
            a3.intoArray(out, outOffset + c + 3 * lanes);
        }
        for (; c < length; c++) {
            float sum = out[outOffset + c];
            for (int s = 0; s < count; s++) {
                sum += weights[s] * table[offsets[s] + c];
            }
            out[outOffset + c] = sum;
        }
    }

    /** Column blocks of {@link #fourRowsTimes} come in multiples of this many floats (two vectors). */
    public static int columnBlock() {
        return 2 * SPECIES.length();
    }

    /** {@code n} rounded up to a multiple of {@link #columnBlock()}. */
    public static int padColumns(int n) {
        int b = columnBlock();
        return (n + b - 1) / b * b;
    }

    /**
     * The rows of {@code rows} in blocks of four, interleaved by column ({@code packed[block * 4 * inner + c * 4 + b]}
     * = {@code rows[4 * block + b][c]}), the left operand of {@link #fourRowsTimes}. A last partial block is padded
     * with zero rows.
     */
    public static float[] packByFour(float[][] rows, int inner) {
        int blocks = (rows.length + 3) / 4;
        float[] packed = new float[blocks * 4 * inner];
        for (int r = 0; r < rows.length; r++) {
            int base = r / 4 * 4 * inner + r % 4;
            float[] row = rows[r];
            for (int c = 0; c < inner; c++) {
                packed[base + c * 4] = row[c];
            }
        }
        return packed;
    }

    /**
     * A small matrix product, four rows at a time: {@code out[outOffset + b * outStride + j] =
     * sum_c packed[offset + 4c + b] * m[mOffset + c * stride + j]} for the four packed rows {@code b} and the columns
     * {@code j < cols} ({@code cols} a multiple of {@link #columnBlock()}). Each pair of column vectors loaded
     * serves eight multiply-adds into eight accumulators, so the loop is bound by the multiply-adds, not the
     * loads; the four left operands come from consecutive floats of one array (measured 3.6x faster than from
     * four arrays, whose bounds checks and loads the JIT does not hoist out of the loop).
     */
    public static void fourRowsTimes(float[] packed, int offset, int inner, float[] m, int mOffset, int stride, int cols, float[] out,
                                     int outOffset, int outStride) {
        int lanes = SPECIES.length();
        for (int j0 = 0; j0 < cols; j0 += 2 * lanes) {
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            FloatVector c0 = a0;
            FloatVector c1 = a0;
            FloatVector d0 = a0;
            FloatVector d1 = a0;
            int k = mOffset + j0;
            int p = offset;
            for (int c = 0; c < inner; c++, k += stride, p += 4) {
                FloatVector m0 = FloatVector.fromArray(SPECIES, m, k);
                FloatVector m1 = FloatVector.fromArray(SPECIES, m, k + lanes);
                FloatVector x = FloatVector.broadcast(SPECIES, packed[p]);
                a0 = x.fma(m0, a0);
                a1 = x.fma(m1, a1);
                x = FloatVector.broadcast(SPECIES, packed[p + 1]);
                b0 = x.fma(m0, b0);
                b1 = x.fma(m1, b1);
                x = FloatVector.broadcast(SPECIES, packed[p + 2]);
                c0 = x.fma(m0, c0);
                c1 = x.fma(m1, c1);
                x = FloatVector.broadcast(SPECIES, packed[p + 3]);
                d0 = x.fma(m0, d0);
                d1 = x.fma(m1, d1);
            }
            int o = outOffset + j0;
            a0.intoArray(out, o);
            a1.intoArray(out, o + lanes);
            b0.intoArray(out, o + outStride);
            b1.intoArray(out, o + outStride + lanes);
            c0.intoArray(out, o + 2 * outStride);
            c1.intoArray(out, o + 2 * outStride + lanes);
            d0.intoArray(out, o + 3 * outStride);
            d1.intoArray(out, o + 3 * outStride + lanes);
        }
    }
}
