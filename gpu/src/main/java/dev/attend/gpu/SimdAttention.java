package dev.attend.gpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link SimdScorer#attend}: exact softmax attention of one query over a subset of stored rows, on the Vector API. */
final class SimdAttention {

    private static final VectorSpecies<Float> SPECIES = Simd.FLOATS;
    /** Logits (then weights) of a call, this thread's: a decode step attends thousands of keys per query head. */
    private static final Scratch LOGITS = new Scratch(1 << 20);
    /** Widened float16 rows of a call: a key row, then four value rows and one more. */
    private static final Scratch ROWS = new Scratch(1 << 16);

    private SimdAttention() {
    }

    /** The attention of {@code query} over {@code keys}/{@code values} (all rows, or {@code subset}), said to run on {@code device}. */
    static AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale, Device device) {
        AttentionInputs.check(query, keys, values, subset, scale);
        int count = subset == null ? keys.size() : subset.length;
        float[] out = new float[values.dim()];
        if (count == 0) {
            return new AttentionOutput(out, Double.NEGATIVE_INFINITY, device);
        }
        // Three passes over the subset: logits (runs of consecutive float32 rows two at a time, read in
        // place), weights by a vectorised exp, then the weighted sum of the values four rows at a time (a
        // quarter of the loads and stores of the output): no per-key copy or scalar exp.
        if (subset != null) {
            // A retrieved subset is scattered over the store: its key and value rows' misses start together.
            keys.touch(subset, count, 0);
            values.touch(subset, count, 0);
        }
        float[] logits = LOGITS.floats(count); // only its first count are used
        int kdim = keys.dim();
        int keyRows = keys.pageRows();
        float[] row = keys.precision() == Precision.FLOAT32 ? null : ROWS.floats(kdim);
        for (int i = 0; i < count; ) {
            int id = subset == null ? i : subset[i];
            int page = id / keyRows;
            int at = (id - page * keyRows) * kdim;
            if (row == null) {
                int run = 1;
                int pageEnd = (page + 1) * keyRows;
                while (i + run < count && id + run < pageEnd && (subset == null || subset[i + run] == id + run)) {
                    run++;
                }
                VectorMath.dotRows(query, keys.float32Page(page), at, kdim, run, logits, i);
                i += run;
            } else {
                VectorMath.widenHalves(keys.float16Page(page), at, row, 0, kdim);
                logits[i++] = VectorMath.dot(query, 0, row, 0, kdim);
            }
        }
        float max = Float.NEGATIVE_INFINITY;
        float min = Float.POSITIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, logits[i]);
            min = Math.min(min, logits[i]);
        }
        float scaledMax = scale >= 0 ? scale * max : scale * min; // the largest scaled logit
        double sum = expInPlace(logits, count, scale, scaledMax);
        int vdim = values.dim();
        accumulate(values, subset, logits, count, out);
        float inv = (float) (1.0 / sum);
        for (int c = 0; c < vdim; c++) {
            out[c] *= inv;
        }
        return new AttentionOutput(out, scaledMax + Math.log(sum), device);
    }

    /** {@code out += sum_i w[i] * values.row(id_i)}, four rows per pass over {@code out}. */
    private static void accumulate(VectorStore values, int[] subset, float[] w, int count, float[] out) {
        int vdim = values.dim();
        int pageRows = values.pageRows();
        boolean f32 = values.precision() == Precision.FLOAT32;
        float[][] rows = new float[4][];
        int[] offsets = new int[4];
        float[] widened = f32 ? null : ROWS.floats(5 * vdim); // four rows side by side, then one
        int i = 0;
        for (; i + 4 <= count; i += 4) {
            for (int j = 0; j < 4; j++) {
                int id = subset == null ? i + j : subset[i + j];
                int page = id / pageRows;
                int at = (id - page * pageRows) * vdim;
                if (f32) {
                    rows[j] = values.float32Page(page);
                    offsets[j] = at;
                } else {
                    VectorMath.widenHalves(values.float16Page(page), at, widened, j * vdim, vdim);
                    rows[j] = widened;
                    offsets[j] = j * vdim;
                }
            }
            axpy4(w[i], rows[0], offsets[0], w[i + 1], rows[1], offsets[1], w[i + 2], rows[2], offsets[2],
                    w[i + 3], rows[3], offsets[3], out, vdim);
        }

        for (; i < count; i++) {
            int id = subset == null ? i : subset[i];
            int page = id / pageRows;
            int at = (id - page * pageRows) * vdim;
            if (f32) {
                VectorMath.axpy(w[i], values.float32Page(page), at, out, 0, vdim);
            } else {
                VectorMath.widenHalves(values.float16Page(page), at, widened, 4 * vdim, vdim);
                VectorMath.axpy(w[i], widened, 4 * vdim, out, 0, vdim);
            }
        }
    }

    private static void axpy4(float w0, float[] r0, int o0, float w1, float[] r1, int o1, float w2, float[] r2, int o2,
                              float w3, float[] r3, int o3, float[] out, int dim) {
        FloatVector v0 = FloatVector.broadcast(SPECIES, w0);
        FloatVector v1 = FloatVector.broadcast(SPECIES, w1);
        FloatVector v2 = FloatVector.broadcast(SPECIES, w2);
        FloatVector v3 = FloatVector.broadcast(SPECIES, w3);
        int bound = SPECIES.loopBound(dim);
        int c = 0;
        for (; c < bound; c += SPECIES.length()) {
            FloatVector a = FloatVector.fromArray(SPECIES, r0, o0 + c).fma(v0, FloatVector.fromArray(SPECIES, out, c));
            FloatVector b = FloatVector.fromArray(SPECIES, r1, o1 + c).mul(v1);
            a = FloatVector.fromArray(SPECIES, r2, o2 + c).fma(v2, a);
            b = FloatVector.fromArray(SPECIES, r3, o3 + c).fma(v3, b);
            a.add(b).intoArray(out, c);
        }
        for (; c < dim; c++) {
            out[c] += w0 * r0[o0 + c] + w1 * r1[o1 + c] + w2 * r2[o2 + c] + w3 * r3[o3 + c];
        }
    }

    /** {@code x[i] = exp(scale * x[i] - max)} for every {@code i < n}, returning the sum (in double, per block of floats). */
    private static double expInPlace(float[] x, int n, float scale, float max) {
        FloatVector m = FloatVector.broadcast(SPECIES, max);
        FloatVector sc = FloatVector.broadcast(SPECIES, scale);
        int lanes = SPECIES.length();
        int bound = SPECIES.loopBound(n);
        double sum = 0;
        int i = 0;
        while (i < bound) {
            FloatVector acc = FloatVector.zero(SPECIES);
            int blockEnd = Math.min(bound, i + 256 * lanes); // float sums of at most 256 terms per lane
            for (; i < blockEnd; i += lanes) {
                FloatVector e = FloatVector.fromArray(SPECIES, x, i).fma(sc, m.neg()).lanewise(VectorOperators.EXP);
                e.intoArray(x, i);
                acc = acc.add(e);
            }
            sum += acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) {
            x[i] = (float) Math.exp(scale * x[i] - max);
            sum += x[i];
        }
        return sum;
    }
}
