package dev.attend.lm;

import dev.attend.gpu.Simd;
import dev.attend.gpu.VectorMath;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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

    private static final VectorSpecies<Float> F = Simd.FLOATS;
    /** Rows of one parallel task of the prefill's dense layers. */
    private static final int ROW_CHUNK = 64;
    /** Output columns of a dense layer's weights kept hot in cache while a chunk's rows pass (a multiple of every column block). */
    private static final int COL_BLOCK = 128;
    /** Query positions and key positions per attention tile (multiples of 4 and of 2 vectors of 512 bits). */
    private static final int Q_BLOCK = 64;
    private static final int K_BLOCK = 256;
    /** Floats added to the stride of transposed matrices (one cache line), against cache-set aliasing. */
    private static final int PAD = 16;

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
            return java.util.Arrays.copyOfRange(keys, (position * kvHeads + kvHead) * headDim, (position * kvHeads + kvHead + 1) * headDim);
        }

        /** The query of query head {@code h} at {@code position}. */
        public float[] query(int h, int position) {
            return java.util.Arrays.copyOfRange(queries, (position * heads + h) * headDim, (position * heads + h + 1) * headDim);
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
                    out[t * g + x] = java.util.Arrays.copyOfRange(queries, (t * heads + h) * headDim, (t * heads + h + 1) * headDim);
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
                out[t - from] = java.util.Arrays.copyOfRange(a, (t * perToken + which) * headDim, (t * perToken + which + 1) * headDim);
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
                float[] n = rmsnormRows(x, r0, rows, d, L.attnNorm);
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
            float[] o = causalAttention(q, k, v, T);
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
                float[] n = rmsnormRows(x, r0, rows, d, L.ffnNorm);
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
            float[] n = rmsnormRows(x, r0, rows, d, norm);
            float[] lg = matmul(n, rows, d, headT, config.vocab());
            for (int r = 0; r < rows; r++) {
                logits[r0 - from + r] = java.util.Arrays.copyOfRange(lg, r * config.vocab(), (r + 1) * config.vocab());
            }
        });
        return new Prefill(T, logits, List.copyOf(kvs), (System.nanoTime() - start) / 1e9, attentionNanos / 1e9);
    }

    /**
     * Full causal grouped-query attention of every position, as matrix products over tiles of {@link #Q_BLOCK} query
     * positions (all the query heads of one KV head together) by {@link #K_BLOCK} keys, with an online softmax;
     * tasks (KV head, query block) run on every core. Returns o {@code (T, heads, headDim)}.
     */
    private float[] causalAttention(float[] q, float[] k, float[] v, int T) {
        int H = config.heads();
        int KV = config.kvHeads();
        int hd = config.headDim();
        int g = config.group();
        int tp = (T + K_BLOCK - 1) / K_BLOCK * K_BLOCK; // padded with zero keys and values, always masked
        // Per KV head: the keys transposed, (headDim, tp), each row padded by one cache line: rows a power-of-two multiple of
        // lines apart would all fall in a few cache sets, and a tile's 64 rows would evict each other.
        int ks = tp + PAD;
        float[][] kt = new float[KV][hd * ks];
        float[][] vs = new float[KV][tp * hd]; // per KV head: the values, (tp, headDim)
        for (int t = 0; t < T; t++) {
            for (int kv = 0; kv < KV; kv++) {
                int src = (t * KV + kv) * hd;
                for (int c = 0; c < hd; c++) {
                    kt[kv][c * ks + t] = k[src + c];
                }
                System.arraycopy(v, src, vs[kv], t * hd, hd);
            }
        }
        float[] o = new float[T * H * hd];
        int qBlocks = (T + Q_BLOCK - 1) / Q_BLOCK;
        float scale = config.attentionScale();
        // Largest blocks first: they are the longest tasks.
        IntStream.range(0, qBlocks * KV).parallel().map(i -> qBlocks * KV - 1 - i).forEach(task -> {
            int kvh = task % KV;
            int qb = task / KV;
            int s0 = qb * Q_BLOCK;
            int s1 = Math.min(T, s0 + Q_BLOCK);
            int rows = g * Q_BLOCK; // row r = x * Q_BLOCK + i: query head kvh * g + x at position s0 + i (padded past s1)
            float[] packedQ = new float[rows * hd];
            for (int x = 0; x < g; x++) {
                int h = kvh * g + x;
                for (int i = 0; i < s1 - s0; i++) {
                    int r = x * Q_BLOCK + i;
                    int base = r / 4 * 4 * hd + r % 4;
                    int src = ((s0 + i) * H + h) * hd;
                    for (int c = 0; c < hd; c++) {
                        packedQ[base + c * 4] = q[src + c] * scale;
                    }
                }
            }
            float[] m = new float[rows];
            java.util.Arrays.fill(m, Float.NEGATIVE_INFINITY);
            float[] l = new float[rows];
            float[] acc = new float[rows * hd];
            float[] s = new float[rows * K_BLOCK];
            float[] packedP = new float[rows * K_BLOCK];
            float[] part = new float[4 * hd];
            int end = Math.min(tp, (s1 + 31) / 32 * 32);
            for (int k0 = 0; k0 < s1; k0 += K_BLOCK) {
                int kb = Math.min(K_BLOCK, end - k0);
                for (int rb = 0; rb < rows / 4; rb++) {
                    VectorMath.fourRowsTimes(packedQ, rb * 4 * hd, hd, kt[kvh], k0, ks, kb, s, rb * 4 * K_BLOCK, K_BLOCK);
                }
                boolean diagonal = k0 + kb - 1 > s0;
                for (int r = 0; r < rows; r++) {
                    int pos = s0 + r % Q_BLOCK;
                    int so = r * K_BLOCK;
                    if (diagonal) {
                        for (int j = Math.max(0, pos + 1 - k0); j < kb; j++) {
                            s[so + j] = Float.NEGATIVE_INFINITY;
                        }
                    }
                    float mx = rowMax(s, so, kb);
                    float mNew = Math.max(m[r], mx);
                    float corr = m[r] == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(m[r] - mNew);
                    float sum = expShift(s, so, kb, mNew);
                    l[r] = l[r] * corr + sum;
                    m[r] = mNew;
                    if (corr != 1f) {
                        for (int c = 0; c < hd; c++) {
                            acc[r * hd + c] *= corr;
                        }
                    }
                    int base = r / 4 * 4 * kb + r % 4;
                    for (int j = 0; j < kb; j++) {
                        packedP[base + j * 4] = s[so + j];
                    }
                }
                for (int rb = 0; rb < rows / 4; rb++) {
                    VectorMath.fourRowsTimes(packedP, rb * 4 * kb, kb, vs[kvh], k0 * hd, hd, hd, part, 0, hd);
                    int a0 = rb * 4 * hd;
                    for (int c = 0; c < 4 * hd; c++) {
                        acc[a0 + c] += part[c];
                    }
                }
            }
            for (int x = 0; x < g; x++) {
                int h = kvh * g + x;
                for (int i = 0; i < s1 - s0; i++) {
                    int r = x * Q_BLOCK + i;
                    float inv = 1f / l[r];
                    int dst = ((s0 + i) * H + h) * hd;
                    for (int c = 0; c < hd; c++) {
                        o[dst + c] = acc[r * hd + c] * inv;
                    }
                }
            }
        });
        return o;
    }

    private static float rowMax(float[] s, int off, int n) {
        int i = 0;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; i <= n - F.length(); i += F.length()) {
            mv = mv.max(FloatVector.fromArray(F, s, off + i));
        }
        float mx = mv.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            mx = Math.max(mx, s[off + i]);
        }
        return mx;
    }

    /** s[i] = exp(s[i] - shift) over the row; returns their sum. */
    private static float expShift(float[] s, int off, int n, float shift) {
        int i = 0;
        FloatVector sv = FloatVector.zero(F);
        FloatVector sh = FloatVector.broadcast(F, shift);
        for (; i <= n - F.length(); i += F.length()) {
            FloatVector e = FloatVector.fromArray(F, s, off + i).sub(sh).lanewise(VectorOperators.EXP);
            e.intoArray(s, off + i);
            sv = sv.add(e);
        }
        float sum = sv.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(s[off + i] - shift);
            s[off + i] = e;
            sum += e;
        }
        return sum;
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
        float[] x = java.util.Arrays.copyOfRange(emb, (token & 0xff) * d, (token & 0xff) * d + d);
        float[] cos = new float[hd / 2];
        float[] sin = new float[hd / 2];
        ropeTable(position, cos, sin);
        for (int li = 0; li < layers.length; li++) {
            Layer L = layers[li];
            float[] n = rmsnormRows(x, 0, 1, d, L.attnNorm);
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
                vs[g] = java.util.Arrays.copyOfRange(v, g * hd, (g + 1) * hd);
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
            float[] n2 = rmsnormRows(x, 0, 1, d, L.ffnNorm);
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
        return matvec(head, config.vocab(), d, rmsnormRows(x, 0, 1, d, norm));
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

    // ------------------------------------------------------------------ kernels

    /** cos/sin of position {@code pos} for each pair: angles in float64, rounded to float32. */
    private void ropeTable(int pos, float[] cos, float[] sin) {
        for (int j = 0; j < cos.length; j++) {
            double ang = (double) pos * invFreq[j];
            cos[j] = (float) Math.cos(ang);
            sin[j] = (float) Math.sin(ang);
        }
    }

    /** Rotates the pairs of one head vector at {@code src[from..]} into {@code dst[to..]}. */
    private static void rope(float[] src, int from, float[] cos, float[] sin, float[] dst, int to) {
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

    private static float silu(float a) {
        return a / (1f + (float) Math.exp(-a));
    }

    /** RMSNorm of {@code rows} rows of {@code x} from row {@code r0}: {@code x / sqrt(mean(x^2) + eps) * w}. */
    private float[] rmsnormRows(float[] x, int r0, int rows, int d, float[] w) {
        float[] out = new float[rows * d];
        for (int r = 0; r < rows; r++) {
            int o = (r0 + r) * d;
            double ss = 0;
            for (int i = 0; i < d; i++) {
                ss += (double) x[o + i] * x[o + i];
            }
            float ms = (float) (ss / d);
            float root = (float) Math.sqrt(ms + (float) config.normEps());
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
    private static float[] matmul(float[] a, int rows, int inner, float[] bT, int cols) {
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
    private static float[] matvec(float[] w, int rows, int cols, float[] x) {
        float[] y = new float[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = VectorMath.dot(w, r * cols, x, 0, cols);
        }
        return y;
    }

    private static void transposeInto(float[] w, int rows, int cols, float[] dst, int dstCols, int dstCol0) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                dst[c * dstCols + dstCol0 + r] = w[r * cols + c];
            }
        }
    }
}
