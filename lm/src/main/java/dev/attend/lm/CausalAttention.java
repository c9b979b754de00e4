package dev.attend.lm;

import dev.attend.gpu.Simd;
import dev.attend.gpu.VectorMath;
import java.util.Arrays;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The prefill's full causal grouped-query attention for {@link ByteLm}: matrix products over tiles of query and key
 * positions with an online softmax, on every core.
 */
final class CausalAttention {

    private static final VectorSpecies<Float> F = Simd.FLOATS;
    /** Query positions and key positions per attention tile (multiples of 4 and of 2 vectors of 512 bits). */
    private static final int Q_BLOCK = 64;
    private static final int K_BLOCK = 256;

    private CausalAttention() {
    }

    /**
     * Full causal grouped-query attention of every position, as matrix products over tiles of {@link #Q_BLOCK} query
     * positions (all the query heads of one KV head together) by {@link #K_BLOCK} keys, with an online softmax;
     * tasks (KV head, query block) run on every core. Returns o {@code (T, heads, headDim)}.
     */
    static float[] compute(ByteLmConfig config, float[] q, float[] k, float[] v, int T) {
        int H = config.heads();
        int KV = config.kvHeads();
        int hd = config.headDim();
        int g = config.group();
        int tp = (T + K_BLOCK - 1) / K_BLOCK * K_BLOCK; // padded with zero keys and values, always masked
        // Per KV head: the keys transposed, (headDim, tp), each row padded by one cache line: rows a power-of-two multiple of
        // lines apart would all fall in a few cache sets, and a tile's 64 rows would evict each other.
        int ks = tp + LmKernels.PAD;
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
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
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
}
