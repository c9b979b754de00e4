package dev.attend.recsys.model;

import dev.attend.gpu.VectorMath;
import java.util.SplittableRandom;

/**
 * A multi-layer perceptron with PReLU after every hidden layer (one learned slope per unit, 0.25 to start) and
 * one linear output. Weights start He-normal, biases at zero.
 */
final class Mlp {

    final int[] widths; // input, hidden..., 1
    final float[][] weights; // [layer][out * in]
    final float[][] biases; // [layer][out]
    final float[][] slopes; // [hidden layer][out]

    Mlp(int input, int[] hidden, SplittableRandom rnd) {
        widths = new int[hidden.length + 2];
        widths[0] = input;
        System.arraycopy(hidden, 0, widths, 1, hidden.length);
        widths[widths.length - 1] = 1;
        int layers = widths.length - 1;
        weights = new float[layers][];
        biases = new float[layers][];
        slopes = new float[hidden.length][];
        for (int l = 0; l < layers; l++) {
            int in = widths[l];
            int out = widths[l + 1];
            weights[l] = new float[out * in];
            double std = Math.sqrt(2.0 / in);
            for (int i = 0; i < weights[l].length; i++) {
                weights[l][i] = (float) (std * rnd.nextGaussian());
            }
            biases[l] = new float[out];
            if (l < hidden.length) {
                slopes[l] = new float[out];
                java.util.Arrays.fill(slopes[l], 0.25f);
            }
        }
    }

    int layers() {
        return widths.length - 1;
    }

    /**
     * Forward pass; {@code pre[l]} and {@code post[l]} (post[0] = input) are kept for the backward pass. Scalar,
     * with double sums: the same inputs give the same bits whether the JIT has compiled it or not, which keeps
     * training reproducible (and a resumed run equal to an uninterrupted one).
     */
    float forward(float[] input, float[][] pre, float[][] post) {
        return forward(input, pre, post, false);
    }

    /**
     * The same with Vector API dot products, about four times faster, for serving: the Vector API sums in another
     * order before its code is compiled than after, so results can differ in the last bits between calls.
     */
    float infer(float[] input, float[][] pre, float[][] post) {
        return forward(input, pre, post, true);
    }

    private float forward(float[] input, float[][] pre, float[][] post, boolean vector) {
        post[0] = input;
        for (int l = 0; l < layers(); l++) {
            int in = widths[l];
            int out = widths[l + 1];
            float[] a = post[l];
            float[] z = new float[out];
            float[] w = weights[l];
            for (int o = 0; o < out; o++) {
                int row = o * in;
                if (vector) {
                    z[o] = biases[l][o] + VectorMath.dot(w, row, a, 0, in);
                } else {
                    double sum = biases[l][o];
                    for (int i = 0; i < in; i++) {
                        sum += w[row + i] * a[i];
                    }
                    z[o] = (float) sum;
                }
            }
            pre[l] = z;
            if (l < layers() - 1) {
                float[] act = new float[out];
                for (int o = 0; o < out; o++) {
                    act[o] = z[o] > 0 ? z[o] : slopes[l][o] * z[o];
                }
                post[l + 1] = act;
            } else {
                post[l + 1] = z;
            }
        }
        return post[layers()][0];
    }

    /** Backward pass from {@code dOut} (d loss / d logit); accumulates into {@code g}; returns d loss / d input. */
    float[] backward(float dOut, float[][] pre, float[][] post, Gradients g) {
        float[] dz = {dOut};
        for (int l = layers() - 1; l >= 0; l--) {
            int in = widths[l];
            int out = widths[l + 1];
            if (l < layers() - 1) { // through the PReLU after this layer
                float[] z = pre[l];
                float[] dSlope = g.slopes[l];
                for (int o = 0; o < out; o++) {
                    if (z[o] <= 0) {
                        dSlope[o] += dz[o] * z[o];
                        dz[o] *= slopes[l][o];
                    }
                }
            }
            float[] a = post[l];
            float[] w = weights[l];
            float[] dw = g.weights[l];
            float[] db = g.biases[l];
            float[] da = new float[in];
            for (int o = 0; o < out; o++) {
                float d = dz[o];
                if (d == 0) {
                    continue;
                }
                db[o] += d;
                int row = o * in;
                for (int i = 0; i < in; i++) {
                    dw[row + i] += d * a[i];
                    da[i] += d * w[row + i];
                }
            }
            dz = da;
        }
        return dz;
    }
}
