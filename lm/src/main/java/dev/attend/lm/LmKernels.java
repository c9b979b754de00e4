package dev.attend.lm;

import dev.attend.gpu.VectorMath;

/** The dense kernels of {@link ByteLm}'s forward pass: RoPE, SiLU, RMSNorm, and matrix products on the Vector API. */
final class LmKernels {

    /** Output columns of a dense layer's weights kept hot in cache while a chunk's rows pass (a multiple of every column block). */
    private static final int COL_BLOCK = 128;
    /** Floats added to the stride of transposed matrices (one cache line), against cache-set aliasing. */
    static final int PAD = 16;

    private LmKernels() {
    }

    /** Rotates the pairs of one head vector at {@code src[from..]} into {@code dst[to..]}. */
    static void rope(float[] src, int from, float[] cos, float[] sin, float[] dst, int to) {
        for (int j = 0; j < cos.length; j++) {
            float x1 = src[from + 2 * j];
            float x2 = src[from + 2 * j + 1];
            float a = x1 * cos[j];
            float b = x2 * sin[j];
            float c = x1 * sin[j];
            float e = x2 * cos[j];
            dst[to + 2 * j] = a - b;
            dst[to + 2 * j + 1] = c + e;
        }
    }

    static float silu(float a) {
        return a / (1f + (float) Math.exp(-a));
    }

    /** RMSNorm of {@code rows} rows of {@code x} from row {@code r0}: {@code x / sqrt(mean(x^2) + eps) * w}. */
    static float[] rmsnormRows(float[] x, int r0, int rows, int d, float[] w, double eps) {
        float[] out = new float[rows * d];
        for (int r = 0; r < rows; r++) {
            int o = (r0 + r) * d;
            double ss = 0;
            for (int i = 0; i < d; i++) {
                ss += (double) x[o + i] * x[o + i];
            }
            float ms = (float) (ss / d);
            float root = (float) Math.sqrt(ms + (float) eps);
            for (int i = 0; i < d; i++) {
                out[r * d + i] = x[o + i] / root * w[i];
            }
        }
        return out;
    }

    /**
     * {@code a (rows, inner) @ bT (inner, cols)}, four rows at a time, {@link #COL_BLOCK} columns of bT at a time; bT's rows
     * are {@code cols + PAD} floats apart.
     */
    static float[] matmul(float[] a, int rows, int inner, float[] bT, int cols) {
        int blocks = (rows + 3) / 4;
        float[] packed = new float[blocks * 4 * inner];
        for (int r = 0; r < rows; r++) {
            int base = r / 4 * 4 * inner + r % 4;
            int src = r * inner;
            for (int c = 0; c < inner; c++) {
                packed[base + c * 4] = a[src + c];
            }
        }
        float[] out = new float[blocks * 4 * cols];
        for (int c0 = 0; c0 < cols; c0 += COL_BLOCK) {
            int w = Math.min(COL_BLOCK, cols - c0);
            for (int b = 0; b < blocks; b++) {
                VectorMath.fourRowsTimes(packed, b * 4 * inner, inner, bT, c0, cols + PAD, w, out, b * 4 * cols + c0, cols);
            }
        }
        return out; // rows past `rows` hold the padding's zeros
    }

    /** {@code W (rows, cols) @ x}. */
    static float[] matvec(float[] w, int rows, int cols, float[] x) {
        float[] y = new float[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = VectorMath.dot(w, r * cols, x, 0, cols);
        }
        return y;
    }

    static void transposeInto(float[] w, int rows, int cols, float[] dst, int dstCols, int dstCol0) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                dst[c * dstCols + dstCol0 + r] = w[r * cols + c];
            }
        }
    }
}
