package dev.attend.lm;

import static dev.attend.lm.LmKernels.PAD;
import static dev.attend.lm.LmKernels.matmul;
import static dev.attend.lm.LmKernels.matvec;
import static dev.attend.lm.LmKernels.rmsnormRows;
import static dev.attend.lm.LmKernels.rope;
import static dev.attend.lm.LmKernels.silu;
import static dev.attend.lm.LmKernels.transposeInto;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The bytelm forward pass on the CPU, step for step as the model's {@code reference_forward.py}: token embedding;
 * per layer RMSNorm, q/k/v projections, RoPE (interleaved pairs, angles in float64 rounded to float32), causal
 * grouped-query attention scaled by the configured scale, output projection, RMSNorm, SwiGLU FFN; final RMSNorm and
 * the logits (position t predicts byte t + 1). Weights are float32 (read from float16), arithmetic float32.
 *
 * <p>{@link #prefill} runs a whole prefix with full causal attention computed here (tiled, online softmax,
 * matrix products on the Vector API over all cores) and returns every layer's roped queries and keys and the
 * values: what an inference engine hands the KV cache. {@link #decode} runs one position and delegates each layer's
 * attention to a {@link LayerAttention}.
 */
public final class ByteLm {

    /** Rows of one parallel task of the prefill's dense layers. */
    private static final int ROW_CHUNK = 64;

    private final ByteLmConfig config;
    private final ByteLmWeights weights;
    private final Layer[] layers;
    private final float[] emb;
    private final float[] norm;
    private final float[] head;
    private final float[] headT;
    private final double[] invFreq;

    /** One layer's weights: (out, in) for decode's matrix-vector products, transposed and fused for the prefill's. */
    private record Layer(float[] attnNorm, float[] ffnNorm, float[] wq, float[] wk, float[] wv, float[] wo, float[] w1, float[] w3,
                         float[] w2, float[] wqkvT, float[] woT, float[] w13T, float[] w2T) {
    }

    public ByteLm(ByteLmConfig config, ByteLmWeights weights) {
        this.config = config;
        this.weights = weights;
        int d = config.dim();
        int qd = config.heads() * config.headDim();
        int kd = config.kvHeads() * config.headDim();
        int f = config.ffnHidden();
        layers = new Layer[config.layers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "layers." + i + ".";
            float[] wq = weights.get(p + "wq");
            float[] wk = weights.get(p + "wk");
            float[] wv = weights.get(p + "wv");
            float[] w1 = weights.get(p + "w1");
            float[] w3 = weights.get(p + "w3");
            float[] wqkvT = new float[d * (qd + 2 * kd + PAD)];
            transposeInto(wq, qd, d, wqkvT, qd + 2 * kd + PAD, 0);
            transposeInto(wk, kd, d, wqkvT, qd + 2 * kd + PAD, qd);
            transposeInto(wv, kd, d, wqkvT, qd + 2 * kd + PAD, qd + kd);
            float[] w13T = new float[d * (2 * f + PAD)];
            transposeInto(w1, f, d, w13T, 2 * f + PAD, 0);
            transposeInto(w3, f, d, w13T, 2 * f + PAD, f);
            float[] wo = weights.get(p + "wo");
            float[] w2 = weights.get(p + "w2");
            float[] woT = new float[qd * (d + PAD)];
            transposeInto(wo, d, qd, woT, d + PAD, 0);
            float[] w2T = new float[f * (d + PAD)];
            transposeInto(w2, d, f, w2T, d + PAD, 0);
            layers[i] = new Layer(weights.get(p + "attn_norm"), weights.get(p + "ffn_norm"), wq, wk, wv, wo, w1, w3, w2, wqkvT, woT, w13T, w2T);
        }
        emb = weights.get("emb");
        norm = weights.get("norm");
        head = weights.get("head");
        headT = new float[d * (config.vocab() + PAD)];
        transposeInto(head, config.vocab(), d, headT, config.vocab() + PAD, 0);
        int hd = config.headDim();
        invFreq = new double[hd / 2];
        for (int j = 0; j < hd / 2; j++) {
            invFreq[j] = Math.pow(config.ropeBase(), -(2.0 * j) / hd);
        }
    }

    /** Loads {@code config.json} and the weights of {@code modelDir}. */
    public static ByteLm load(Path modelDir) throws IOException {
        ByteLmConfig c = ByteLmConfig.load(modelDir);
        return new ByteLm(c, ByteLmWeights.load(modelDir, c));
    }

    public ByteLmConfig config() {
        return config;
    }

    public ByteLmWeights weights() {
        return weights;
    }

    // ------------------------------------------------------------------ prefill

    /**
     * One layer's attention inputs over positions {@code [0, length)}: queries {@code (length, heads, headDim)} and keys
     * {@code (length, kvHeads, headDim)} roped, values {@code (length, kvHeads, headDim)}, row-major.
     */
    public record LayerKv(int length, int heads, int kvHeads, int headDim, float[] queries, float[] keys, float[] values) {

        /** The keys of one KV head, one row per position. */
        public float[][] keyRows(int kvHead) {
            return rows(keys, kvHeads, kvHead, 0, length);
        }

        /** The values of one KV head, one row per position. */
        public float[][] valueRows(int kvHead) {
            return rows(values, kvHeads, kvHead, 0, length);
        }

        /** The key of one KV head at one position. */
        public float[] key(int kvHead, int position) {
            return Arrays.copyOfRange(keys, (position * kvHeads + kvHead) * headDim, (position * kvHeads + kvHead + 1) * headDim);
        }

        /** The query of query head {@code h} at {@code position}. */
        public float[] query(int h, int position) {
            return Arrays.copyOfRange(queries, (position * heads + h) * headDim, (position * heads + h + 1) * headDim);
        }

        /**
         * The queries of the query heads that read {@code kvHead}, in token order and by head within a token (position
         * t's queries at rows {@code [t g, (t + 1) g)} for a group of g): how a KV session takes prefill queries.
         */
        public float[][] queryRowsOf(int kvHead) {
            int g = heads / kvHeads;
            float[][] out = new float[length * g][];
            for (int t = 0; t < length; t++) {
                for (int x = 0; x < g; x++) {
                    int h = kvHead * g + x;
                    out[t * g + x] = Arrays.copyOfRange(queries, (t * heads + h) * headDim, (t * heads + h + 1) * headDim);
                }
            }
            return out;
        }

        /** The query head of each row of {@link #queryRowsOf}. */
        public int[] queryHeadsOf(int kvHead) {
            int g = heads / kvHeads;
            int[] out = new int[length * g];
            for (int i = 0; i < out.length; i++) {
                out[i] = kvHead * g + i % g;
            }
            return out;
        }

        private float[][] rows(float[] a, int perToken, int which, int from, int to) {
            float[][] out = new float[to - from][];
            for (int t = from; t < to; t++) {
                out[t - from] = Arrays.copyOfRange(a, (t * perToken + which) * headDim, (t * perToken + which + 1) * headDim);
            }
            return out;
        }
    }

    /**
     * What a prefill gives: the logits of every position ({@code allLogits}) or of the last only ({@code logits} then
     * holds one row), and each layer's attention inputs; the time it took, and of that the causal attention's.
     */
    public record Prefill(int length, float[][] logits, List<LayerKv> layers, double seconds, double attentionSeconds) {

        /** The logits of the last position (the prediction of the byte after the prefix). */
        public float[] lastLogits() {
            return logits[logits.length - 1];
        }
    }

    /** The forward pass over {@code tokens[0, length)} (bytes, read unsigned) with full causal attention. */
    public Prefill prefill(byte[] tokens, int length, boolean allLogits) {
        if (length < 1 || length > tokens.length) {
            throw new IllegalArgumentException("length must be in [1, " + tokens.length + "], got " + length);
        }
        int T = length;
        int d = config.dim();
        int H = config.heads();
        int KV = config.kvHeads();
        int hd = config.headDim();
        int qd = H * hd;
        int kd = KV * hd;
        long attentionNanos = 0;
        long start = System.nanoTime();
        float[] x = new float[T * d];
        for (int t = 0; t < T; t++) {
            System.arraycopy(emb, (tokens[t] & 0xff) * d, x, t * d, d);
        }
        float[][] cos = new float[T][];
        float[][] sin = new float[T][];
        for (int t = 0; t < T; t++) {
            cos[t] = new float[hd / 2];
            sin[t] = new float[hd / 2];
            ropeTable(t, cos[t], sin[t]);
        }
        int chunks = (T + ROW_CHUNK - 1) / ROW_CHUNK;
        List<LayerKv> kvs = new ArrayList<>();
        for (Layer L : layers) {
            float[] q = new float[T * qd];
            float[] k = new float[T * kd];
            float[] v = new float[T * kd];
            // q, k, v of every position, roped
            IntStream.range(0, chunks).parallel().forEach(c -> {
                int r0 = c * ROW_CHUNK;
                int rows = Math.min(ROW_CHUNK, T - r0);
                float[] n = rmsnormRows(x, r0, rows, d, L.attnNorm, config.normEps());
                int cols = qd + 2 * kd;
                float[] qkv = matmul(n, rows, d, L.wqkvT, cols);
                for (int r = 0; r < rows; r++) {
                    int t = r0 + r;
                    for (int h = 0; h < H; h++) {
                        rope(qkv, r * cols + h * hd, cos[t], sin[t], q, (t * H + h) * hd);
                    }
                    for (int g = 0; g < KV; g++) {
                        rope(qkv, r * cols + qd + g * hd, cos[t], sin[t], k, (t * KV + g) * hd);
                        System.arraycopy(qkv, r * cols + qd + kd + g * hd, v, (t * KV + g) * hd, hd);
                    }
                }
            });
            kvs.add(new LayerKv(T, H, KV, hd, q, k, v));
            long a0 = System.nanoTime();
            float[] o = CausalAttention.compute(config, q, k, v, T);
            attentionNanos += System.nanoTime() - a0;
            // x += wo(o); x += ffn(x)
            IntStream.range(0, chunks).parallel().forEach(c -> {
                int r0 = c * ROW_CHUNK;
                int rows = Math.min(ROW_CHUNK, T - r0);
                float[] oc = new float[rows * qd];
                System.arraycopy(o, r0 * qd, oc, 0, rows * qd);
                float[] y = matmul(oc, rows, qd, L.woT, d);
                for (int i = 0; i < rows * d; i++) {
                    x[r0 * d + i] += y[i];
                }
                float[] n = rmsnormRows(x, r0, rows, d, L.ffnNorm, config.normEps());
                int f = config.ffnHidden();
                float[] h13 = matmul(n, rows, d, L.w13T, 2 * f);
                float[] gate = new float[rows * f];
                for (int r = 0; r < rows; r++) {
                    for (int j = 0; j < f; j++) {
                        float a = h13[r * 2 * f + j];
                        gate[r * f + j] = silu(a) * h13[r * 2 * f + f + j];
                    }
                }
                float[] z = matmul(gate, rows, f, L.w2T, d);
                for (int i = 0; i < rows * d; i++) {
                    x[r0 * d + i] += z[i];
                }
            });
        }
        int from = allLogits ? 0 : T - 1;
        float[][] logits = new float[T - from][];
        int lchunks = (T - from + ROW_CHUNK - 1) / ROW_CHUNK;
        IntStream.range(0, lchunks).parallel().forEach(c -> {
            int r0 = from + c * ROW_CHUNK;
            int rows = Math.min(ROW_CHUNK, T - r0);
            float[] n = rmsnormRows(x, r0, rows, d, norm, config.normEps());
            float[] lg = matmul(n, rows, d, headT, config.vocab());
            for (int r = 0; r < rows; r++) {
                logits[r0 - from + r] = Arrays.copyOfRange(lg, r * config.vocab(), (r + 1) * config.vocab());
            }
        });
        return new Prefill(T, logits, List.copyOf(kvs), (System.nanoTime() - start) / 1e9, attentionNanos / 1e9);
    }


    // ------------------------------------------------------------------ decode

    /**
     * One decode position: {@code token} (a byte, unsigned) at {@code position}; each layer's attention goes to
     * {@code attention}, which appends the position's keys and values first. Returns the logits (the prediction of
     * the byte at {@code position + 1}).
     */
    public float[] decode(int token, int position, LayerAttention attention) {
        int d = config.dim();
        int H = config.heads();
        int KV = config.kvHeads();
        int hd = config.headDim();
        float[] x = Arrays.copyOfRange(emb, (token & 0xff) * d, (token & 0xff) * d + d);
        float[] cos = new float[hd / 2];
        float[] sin = new float[hd / 2];
        ropeTable(position, cos, sin);
        for (int li = 0; li < layers.length; li++) {
            Layer L = layers[li];
            float[] n = rmsnormRows(x, 0, 1, d, L.attnNorm, config.normEps());
            float[] q = matvec(L.wq, H * hd, d, n);
            float[] k = matvec(L.wk, KV * hd, d, n);
            float[] v = matvec(L.wv, KV * hd, d, n);
            float[][] qs = new float[H][hd];
            float[][] ks = new float[KV][hd];
            float[][] vs = new float[KV][];
            for (int h = 0; h < H; h++) {
                rope(q, h * hd, cos, sin, qs[h], 0);
            }
            for (int g = 0; g < KV; g++) {
                rope(k, g * hd, cos, sin, ks[g], 0);
                vs[g] = Arrays.copyOfRange(v, g * hd, (g + 1) * hd);
            }
            float[][] out = attention.attend(li, position, ks, vs, qs);
            if (out.length != H) {
                throw new IllegalStateException("the attention answered " + out.length + " query heads, expected " + H);
            }
            float[] o = new float[H * hd];
            for (int h = 0; h < H; h++) {
                System.arraycopy(out[h], 0, o, h * hd, hd);
            }
            float[] y = matvec(L.wo, d, H * hd, o);
            for (int i = 0; i < d; i++) {
                x[i] += y[i];
            }
            float[] n2 = rmsnormRows(x, 0, 1, d, L.ffnNorm, config.normEps());
            int f = config.ffnHidden();
            float[] a = matvec(L.w1, f, d, n2);
            float[] b = matvec(L.w3, f, d, n2);
            for (int j = 0; j < f; j++) {
                a[j] = silu(a[j]) * b[j];
            }
            float[] z = matvec(L.w2, d, f, a);
            for (int i = 0; i < d; i++) {
                x[i] += z[i];
            }
        }
        return matvec(head, config.vocab(), d, rmsnormRows(x, 0, 1, d, norm, config.normEps()));
    }

    /** log2 of the softmax probability of {@code target} under {@code logits}. */
    public static double log2Prob(float[] logits, int target) {
        double mx = Double.NEGATIVE_INFINITY;
        for (float z : logits) {
            mx = Math.max(mx, z);
        }
        double sum = 0;
        for (float z : logits) {
            sum += Math.exp(z - mx);
        }
        return (logits[target] - mx - Math.log(sum)) / Math.log(2);
    }

    /** A byte drawn from the softmax of {@code logits / temperature}; temperature 0 takes the likeliest. */
    public static int sample(float[] logits, double temperature, SplittableRandom rnd) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        if (temperature == 0) {
            return best;
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - logits[best]) / temperature);
            sum += p[i];
        }
        double u = rnd.nextDouble() * sum;
        for (int i = 0; i < p.length; i++) {
            u -= p[i];
            if (u <= 0) {
                return i;
            }
        }
        return best;
    }

    /** cos/sin of position {@code pos} for each pair: angles in float64, rounded to float32. */
    private void ropeTable(int pos, float[] cos, float[] sin) {
        for (int j = 0; j < cos.length; j++) {
            double ang = (double) pos * invFreq[j];
            cos[j] = (float) Math.cos(ang);
            sin[j] = (float) Math.sin(ang);
        }
    }
}
