package dev.attend.recsys.model;

import dev.attend.gpu.Scratch;
import dev.attend.gpu.Simd;
import dev.attend.gpu.VectorMath;
import java.util.Arrays;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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
                Arrays.fill(slopes[l], 0.25f);
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
        post[0] = input;
        for (int l = 0; l < layers(); l++) {
            int in = widths[l];
            int out = widths[l + 1];
            float[] a = post[l];
            float[] z = new float[out];
            float[] w = weights[l];
            for (int o = 0; o < out; o++) {
                int row = o * in;
                double sum = biases[l][o];
                for (int i = 0; i < in; i++) {
                    sum += w[row + i] * a[i];
                }
                z[o] = (float) sum;
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

    /**
     * The weights in the layout of {@link #inferBatch}'s right operands: per layer, the transposed matrix in panels of
     * {@link VectorMath#columnBlock()} outputs ({@code t[panel * in * P + i * P + j]} = weight of input i to output
     * {@code panel * P + j}, zero past the last output), so that the panel a product streams through for every block
     * of inputs lies contiguous in L1 (measured 15-20% faster than one row of all outputs per input). A snapshot, to be
     * taken again after the weights change.
     */
    float[][] transposedWeights() {
        int p = VectorMath.columnBlock();
        float[][] out = new float[layers()][];
        for (int l = 0; l < layers(); l++) {
            int in = widths[l];
            int outs = widths[l + 1];
            float[] t = new float[in * VectorMath.padColumns(outs)];
            for (int o = 0; o < outs; o++) {
                for (int i = 0; i < in; i++) {
                    t[o / p * in * p + i * p + o % p] = weights[l][o * in + i];
                }
            }
            out[l] = t;
        }
        return out;
    }

    /** Per-thread work arrays of {@link #inferBatch}: a layer's outputs, and the next layer's inputs (two, alternating). */
    private static final Scratch OUTPUTS = new Scratch(1 << 20);
    private static final Scratch INPUTS_EVEN = new Scratch(1 << 20);
    private static final Scratch INPUTS_ODD = new Scratch(1 << 20);

    private static final VectorSpecies<Float> SPECIES = Simd.FLOATS;

    /**
     * The logits of {@code rows} inputs at once, packed by four ({@link VectorMath#packByFour} layout, the input width
     * inner), with {@code transposed} from {@link #transposedWeights}: every layer is one small matrix product
     * ({@link VectorMath#fourRowsTimes}) instead of a matrix-vector product per input, so each weight loaded serves
     * four inputs. Equal to {@link #forward} per input up to float rounding.
     */
    float[] inferBatch(float[] packed, int rows, float[][] transposed) {
        int blocks = (rows + 3) / 4;
        int inner = widths[0];
        int panel = VectorMath.columnBlock();
        float[] logits = new float[rows];
        for (int l = 0; l < layers(); l++) {
            int outs = widths[l + 1];
            int cols = VectorMath.padColumns(outs);
            float[] z = OUTPUTS.floats(blocks * 4 * cols); // row-major
            // A panel of columns at a time (inner x one column block: in L1) against every block of inputs (from L2),
            // rather than every column for one block, which streams the whole layer from L2 per four inputs.
            for (int j0 = 0; j0 < cols; j0 += panel) {
                for (int b = 0; b < blocks; b++) {
                    VectorMath.fourRowsTimes(packed, b * 4 * inner, inner, transposed[l], j0 * inner, panel, panel, z, b * 4 * cols + j0, cols);
                }
            }
            float[] bias = biases[l];
            if (l == layers() - 1) {
                for (int r = 0; r < rows; r++) {
                    logits[r] = z[r * cols] + bias[0];
                }
                break;
            }
            activate(z, blocks * 4, cols, outs, bias, slopes[l]);
            float[] next = (l % 2 == 0 ? INPUTS_EVEN : INPUTS_ODD).floats(blocks * 4 * outs); // packed by four again
            for (int b = 0; b < blocks; b++) {
                int to = b * 4 * outs;
                int from = b * 4 * cols;
                for (int o = 0; o < outs; o++) {
                    next[to + 4 * o] = z[from + o];
                    next[to + 4 * o + 1] = z[from + cols + o];
                    next[to + 4 * o + 2] = z[from + 2 * cols + o];
                    next[to + 4 * o + 3] = z[from + 3 * cols + o];
                }
            }
            packed = next;
            inner = outs;
        }
        return logits;
    }

    /**
     * Bias and PReLU on the first {@code outs} of each of {@code rows} rows of {@code z}, in place, a vector at a time
     * with a blend: a branch on the sign, taken at random, cost a quarter of the whole batch.
     */
    private static void activate(float[] z, int rows, int cols, int outs, float[] bias, float[] slope) {
        int lanes = SPECIES.length();
        for (int r = 0; r < rows; r++) {
            int row = r * cols;
            int o = 0;
            for (; o + lanes <= outs; o += lanes) {
                FloatVector v = FloatVector.fromArray(SPECIES, z, row + o).add(FloatVector.fromArray(SPECIES, bias, o));
                v.blend(v.mul(FloatVector.fromArray(SPECIES, slope, o)), v.compare(VectorOperators.LE, 0f)).intoArray(z, row + o);
            }
            for (; o < outs; o++) {
                float v = z[row + o] + bias[o];
                z[row + o] = v > 0 ? v : slope[o] * v;
            }
        }
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
