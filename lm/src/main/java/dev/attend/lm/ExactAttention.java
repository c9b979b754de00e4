package dev.attend.lm;

import dev.attend.gpu.VectorMath;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * Decode attention computed here, exactly, under one of the reference's rules: {@code full} (every causal key),
 * {@code streaming} (sinks: positions below {@code sinks}; window: the last {@code window} positions up to the
 * query) or {@code topk} (streaming plus the {@code k} other causal keys with the largest raw {@code q.k}, per query
 * head): the oracle of {@code reference_forward.py}'s decode rules. Holds the cache itself, from a prefill.
 */
public final class ExactAttention implements LayerAttention {

    /** The rule: {@code k} matters for {@link Kind#TOPK} only. */
    public record Rule(Kind kind, int sinks, int window, int k) {
        public static Rule full() {
            return new Rule(Kind.FULL, 0, 0, 0);
        }

        public static Rule streaming(int sinks, int window) {
            return new Rule(Kind.STREAMING, sinks, window, 0);
        }

        public static Rule topK(int sinks, int window, int k) {
            return new Rule(Kind.TOPK, sinks, window, k);
        }

        public String name() {
            return switch (kind) {
                case FULL -> "full";
                case STREAMING -> "streaming";
                case TOPK -> "topk-" + k;
            };
        }
    }

    public enum Kind { FULL, STREAMING, TOPK }

    private final ByteLmConfig config;
    private final Rule rule;
    /** [layer][kvHead]: rows of headDim, grown as positions are appended. */
    private final float[][][] keys;
    private final float[][][] values;
    private int length;
    private final int hd;
    private long keysAttended;
    private long attends;

    /** A cache holding the prefill's keys and values; decoding goes on from position {@code prefill.length()}. */
    public ExactAttention(ByteLmConfig config, ByteLm.Prefill prefill, Rule rule, int capacity) {
        this.config = config;
        this.rule = rule;
        this.hd = config.headDim();
        int n = prefill.length();
        int cap = Math.max(capacity, n);
        keys = new float[config.layers()][config.kvHeads()][];
        values = new float[config.layers()][config.kvHeads()][];
        for (int l = 0; l < config.layers(); l++) {
            ByteLm.LayerKv kv = prefill.layers().get(l);
            for (int g = 0; g < config.kvHeads(); g++) {
                keys[l][g] = new float[cap * hd];
                values[l][g] = new float[cap * hd];
                for (int t = 0; t < n; t++) {
                    System.arraycopy(kv.keys(), (t * config.kvHeads() + g) * hd, keys[l][g], t * hd, hd);
                    System.arraycopy(kv.values(), (t * config.kvHeads() + g) * hd, values[l][g], t * hd, hd);
                }
            }
        }
        length = n;
    }

    public Rule rule() {
        return rule;
    }

    /** Mean keys attended per query head and decode position. */
    public double meanKeysAttended() {
        return attends == 0 ? 0 : (double) keysAttended / attends;
    }

    @Override
    public synchronized float[][] attend(int layer, int position, float[][] k, float[][] v, float[][] queries) {
        if (layer == 0) {
            if (position != length) {
                throw new IllegalArgumentException("position " + position + " is out of order: the next position is " + length);
            }
            length++;
        } else if (position != length - 1) {
            throw new IllegalArgumentException("layer " + layer + " at position " + position + ": layer 0 is at " + (length - 1));
        }
        for (int g = 0; g < config.kvHeads(); g++) {
            if (keys[layer][g].length < (position + 1) * hd) {
                keys[layer][g] = Arrays.copyOf(keys[layer][g], Math.max(2 * keys[layer][g].length, (position + 1) * hd));
                values[layer][g] = Arrays.copyOf(values[layer][g], keys[layer][g].length);
            }
            System.arraycopy(k[g], 0, keys[layer][g], position * hd, hd);
            System.arraycopy(v[g], 0, values[layer][g], position * hd, hd);
        }
        int n = position + 1;
        float[][] out = new float[queries.length][];
        long[] used = new long[queries.length];
        IntStream.range(0, queries.length).parallel().forEach(h -> {
            int g = config.kvHeadOf(h);
            float[] K = keys[layer][g];
            float[] V = values[layer][g];
            float[] raw = new float[n];
            for (int j = 0; j < n; j++) {
                raw[j] = VectorMath.dot(queries[h], 0, K, j * hd, hd);
            }
            boolean[] allowed = new boolean[n];
            if (rule.kind() == Kind.FULL) {
                Arrays.fill(allowed, true);
            } else {
                int others = 0;
                for (int j = 0; j < n; j++) {
                    allowed[j] = j < rule.sinks() || j > position - rule.window();
                    others += allowed[j] ? 0 : 1;
                }
                if (rule.kind() == Kind.TOPK && others > 0) {
                    float[] cand = new float[others];
                    int c = 0;
                    for (int j = 0; j < n; j++) {
                        if (!allowed[j]) {
                            cand[c++] = raw[j];
                        }
                    }
                    int kk = Math.min(rule.k(), others);
                    Arrays.sort(cand);
                    float threshold = cand[others - kk];
                    int taken = 0;
                    for (int j = 0; j < n && taken < kk; j++) { // ties: the earliest, as many as k
                        if (!allowed[j] && raw[j] > threshold) {
                            allowed[j] = true;
                            taken++;
                        }
                    }
                    for (int j = 0; j < n && taken < kk; j++) {
                        if (!allowed[j] && raw[j] == threshold) {
                            allowed[j] = true;
                            taken++;
                        }
                    }
                }
            }
            float scale = config.attentionScale();
            float mx = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                if (allowed[j]) {
                    mx = Math.max(mx, raw[j] * scale);
                }
            }
            float[] o = new float[hd];
            double sum = 0;
            int count = 0;
            for (int j = 0; j < n; j++) {
                if (allowed[j]) {
                    float p = (float) Math.exp(raw[j] * scale - mx);
                    sum += p;
                    count++;
                    VectorMath.axpy(p, V, j * hd, o, 0, hd);
                }
            }
            float inv = (float) (1 / sum);
            for (int c = 0; c < hd; c++) {
                o[c] *= inv;
            }
            out[h] = o;
            used[h] = count;
        });
        for (long u : used) {
            keysAttended += u;
        }
        attends += queries.length;
        return out;
    }
}
