package dev.attend.search;

import dev.attend.gpu.VectorMath;
import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * LexSemBridge query modulation (2025): sharpens a dense query embedding with the query's own tokens, for
 * fine-grained queries (keywords, a part of a passage), without touching the document index.
 *
 * <p>From the query's tokens {@code t} with weights {@code w_t} (1 for presence, the SLR token vector, or an IDF)
 * it computes {@code z = b + sum_t w_t W[t]}, the modulation {@code v = softmax(z)} over the {@code dim} embedding
 * dimensions, and the modulated query {@code q' = normalise(v ⊙ e_q)}. Documents stay as they are (unit
 * vectors), and search is the usual dot product / cosine with {@code q'}.
 *
 * <p>Give {@link #modulate} the same kind of token weights the modulation was trained with (all 1, or the same IDF
 * table): {@code z} scales with them. The tokens are the encoder tokenizer's ids of the query, each once, special
 * tokens left out. The index's document vectors must be unit vectors, as in training.
 *
 * <p>{@code W} is stored token-major, {@code W[t]} = {@code w[t * dim, (t + 1) * dim)}, so a query reads only its
 * own tokens' rows (and training updates only those rows). A new modulation has {@code W = 0} and {@code b = 0}:
 * then {@code v} is uniform ({@code 1/dim} everywhere) and {@code q' = normalise(e_q)} whatever the tokens, so the
 * untrained modulation is exactly plain dense retrieval. {@link ModulationTrainer} learns {@code W} and {@code b}.
 *
 * <p>The per-dimension loops (the accumulation of {@code z} over the tokens' rows, the softmax exponentials, the
 * element-wise products) run on the Vector API with scalar tails, on {@link ModulationKernels}: an input gives the
 * same bits whether the JIT has compiled the code or not, which keeps training reproducible.
 *
 * <p><b>Learned token weights (LLR)</b>, optional ({@link #withLearnedWeights}): each token {@code t} also has a
 * vector {@code U[t]} and a bias {@code c[t]}, and its weight in {@code z} becomes {@code w_t * l_t(e_q)} with
 * {@code l_t(e_q) = log(1 + relu(e_q . U[t] + c[t]))}: the paper's learned lexical representation, read at the
 * query's own tokens, so that how much a token steers the query depends on what the query is about (a common word
 * inside a long span can fade, the same word as a keyword can stay). It starts at {@code U = 0},
 * {@code c = e - 1}: {@code l = 1}, exactly the presence (SLR) modulation, and {@link ModulationTrainer} learns
 * {@code U} and {@code c} with {@code W} and {@code b} (their rows, too, only for the tokens of a batch).
 *
 * <p>{@link #modulate} only reads the parameters: any number of threads may call it, as long as no
 * {@link ModulationTrainer#train training} of this instance runs at the same time.
 *
 * <p>{@link ModulationFile} saves and loads it.
 */
public final class LexSemModulation {

    private static final VectorSpecies<Float> SPECIES = ModulationKernels.SPECIES;
    private static final int LANES = ModulationKernels.LANES;
    /** {@code c}'s start: {@code log(1 + (e - 1)) = 1}, every token's learned weight 1. */
    static final float LEARNED_START = (float) (Math.E - 1);
    /** The largest float array the JVM hands out, with some margin. */
    static final long MAX_ARRAY = Integer.MAX_VALUE - 16;

    private final int vocabulary;
    private final int dim;
    /** {@code W}, token-major: row t at {@code [t * dim, (t + 1) * dim)}. */
    final float[] w;
    /** {@code b}. */
    final float[] b;
    /** LLR's {@code U}, token-major like {@code W}; null without learned token weights. */
    final float[] u;
    /** LLR's {@code c}, one per token; null without learned token weights. */
    final float[] c;

    /**
     * A modulation for token ids in {@code [0, vocabulary)} and embeddings of {@code dim} dimensions, with
     * {@code W = 0} and {@code b = 0}: {@link #modulate} then returns {@code normalise(query)}, plain dense retrieval.
     */
    public LexSemModulation(int vocabulary, int dim) {
        this(vocabulary, dim, false);
    }

    /**
     * A modulation with learned token weights (LLR): {@code W = 0}, {@code b = 0}, {@code U = 0} and every
     * {@code c[t] = e - 1}, so every learned weight starts at 1 and {@link #modulate} at plain dense retrieval.
     */
    public static LexSemModulation withLearnedWeights(int vocabulary, int dim) {
        return new LexSemModulation(vocabulary, dim, true);
    }

    private LexSemModulation(int vocabulary, int dim, boolean learnedWeights) {
        if (vocabulary <= 0) {
            throw new IllegalArgumentException("vocabulary must be positive, got " + vocabulary);
        }
        if (dim <= 0) {
            throw new IllegalArgumentException("dim must be positive, got " + dim);
        }
        if ((long) vocabulary * dim > MAX_ARRAY) {
            throw new IllegalArgumentException("vocabulary * dim = " + (long) vocabulary * dim + " exceeds the largest float array ("
                    + MAX_ARRAY + ")");
        }
        this.vocabulary = vocabulary;
        this.dim = dim;
        this.w = new float[vocabulary * dim];
        this.b = new float[dim];
        this.u = learnedWeights ? new float[vocabulary * dim] : null;
        this.c = learnedWeights ? new float[vocabulary] : null;
        if (learnedWeights) {
            Arrays.fill(c, LEARNED_START);
        }
    }

    /** Whether the tokens' weights are learned (LLR) rather than taken as given. */
    public boolean learnsWeights() {
        return u != null;
    }

    /**
     * The weights {@code z} sums the tokens' rows with: {@code weights} as given, or with learned token weights
     * {@code weights[i] * log(1 + relu(query . U[t_i] + c[t_i]))}. {@code pre}, when not null, receives each token's
     * {@code query . U[t] + c[t]} (the trainer's backward pass needs it).
     */
    float[] tokenWeights(int[] tokens, float[] weights, float[] query, float[] pre) {
        if (u == null) {
            return weights;
        }
        float[] out = new float[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            float a = (float) (VectorMath.dotOrdered(query, 0, u, tokens[i] * dim, dim) + c[tokens[i]]);
            if (pre != null) {
                pre[i] = a;
            }
            out[i] = weights[i] * (float) Math.log1p(Math.max(0f, a));
        }
        return out;
    }

    /** Token ids are in {@code [0, vocabulary())}. */
    public int vocabulary() {
        return vocabulary;
    }

    /** The embedding dimension. */
    public int dim() {
        return dim;
    }

    /**
     * The modulated query {@code normalise(softmax(b + sum_t weights[t] W[tokens[t]]) ⊙ query)}, a new unit vector.
     *
     * @param tokens the query's token ids, each in {@code [0, vocabulary())}; distinct ids are expected (an id
     *     given twice counts with the sum of its weights); may be empty ({@code z = b})
     * @param weights one finite weight per token: 1 for token presence, or the token's IDF
     * @param query the dense query embedding {@code e_q}, {@code dim()} finite values, not all zero (need not be
     *     unit: only its direction matters, except to learned token weights, which read it as given: give them
     *     what they were trained on, the encoder's unit vectors)
     * @throws IllegalArgumentException on lengths that disagree, a token out of range, a NaN or infinite weight or
     *     query component, or a zero query
     */
    public float[] modulate(int[] tokens, float[] weights, float[] query) {
        String error = check(tokens, weights, query);
        if (error != null) {
            throw new IllegalArgumentException(error);
        }
        float[] v = new float[dim];
        float[] out = new float[dim];
        forward(tokens, tokenWeights(tokens, weights, query, null), query, v, out);
        return out;
    }

    /**
     * Why {@code (tokens, weights, query)} is not a valid input of {@link #modulate}, or null when it is. The
     * trainer checks its pairs with it too.
     */
    String check(int[] tokens, float[] weights, float[] query) {
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(query, "query");
        if (tokens.length != weights.length) {
            return "tokens and weights differ in length: " + tokens.length + " tokens, " + weights.length + " weights";
        }
        if (query.length != dim) {
            return "query has " + query.length + " dimensions; this modulation has dim " + dim;
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocabulary) {
                return "token " + tokens[i] + " at position " + i + " is outside the vocabulary [0, " + vocabulary + ")";
            }
            if (!Float.isFinite(weights[i])) {
                return "weight " + weights[i] + " at position " + i + " (token " + tokens[i] + ") is not finite";
            }
        }
        boolean nonZero = false;
        for (int k = 0; k < dim; k++) {
            if (!Float.isFinite(query[k])) {
                return "query component " + k + " is " + query[k] + ", not finite";
            }
            nonZero |= query[k] != 0;
        }
        if (!nonZero) {
            return "query is the zero vector";
        }
        return null;
    }

    /**
     * The forward pass on checked input: {@code v} gets {@code softmax(z)}, {@code out} gets {@code q' = u / |u|}
     * with {@code u = v ⊙ query}; returns {@code |u|}. {@link ModulationTrainer} backpropagates through it.
     *
     * @throws IllegalStateException if {@code u} vanishes (only with diverged parameters: some component of
     *     {@code v} is at least {@code e^-87} of the largest)
     */
    float forward(int[] tokens, float[] weights, float[] query, float[] v, float[] out) {
        int d = dim;
        int n = tokens.length;
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            rows[i] = tokens[i] * d;
        }
        // z = b + sum_t w_t W[t], into v; each chunk of z stays in a register across the tokens' rows
        int c = 0;
        for (; c + 2 * LANES <= d; c += 2 * LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, b, c);
            FloatVector a1 = FloatVector.fromArray(SPECIES, b, c + LANES);
            for (int i = 0; i < n; i++) {
                FloatVector x = FloatVector.broadcast(SPECIES, weights[i]);
                a0 = x.fma(FloatVector.fromArray(SPECIES, w, rows[i] + c), a0);
                a1 = x.fma(FloatVector.fromArray(SPECIES, w, rows[i] + c + LANES), a1);
            }
            a0.intoArray(v, c);
            a1.intoArray(v, c + LANES);
        }
        for (; c + LANES <= d; c += LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, b, c);
            for (int i = 0; i < n; i++) {
                a0 = FloatVector.broadcast(SPECIES, weights[i]).fma(FloatVector.fromArray(SPECIES, w, rows[i] + c), a0);
            }
            a0.intoArray(v, c);
        }
        for (; c < d; c++) {
            float a = b[c];
            for (int i = 0; i < n; i++) {
                a = Math.fma(weights[i], w[rows[i] + c], a);
            }
            v[c] = a;
        }
        // v = softmax(z)
        float max = ModulationKernels.max(v, d);
        float sum = (float) ModulationKernels.expShifted(v, max, d);
        // v /= sum; u = v ⊙ query into out; |u|^2
        FloatVector s = FloatVector.broadcast(SPECIES, sum);
        FloatVector acc = FloatVector.zero(SPECIES);
        int k = 0;
        for (; k + LANES <= d; k += LANES) {
            FloatVector vk = FloatVector.fromArray(SPECIES, v, k).div(s);
            vk.intoArray(v, k);
            FloatVector u = vk.mul(FloatVector.fromArray(SPECIES, query, k));
            u.intoArray(out, k);
            acc = u.fma(u, acc);
        }
        double sq = VectorMath.sumInLaneOrder(acc);
        for (; k < d; k++) {
            v[k] = v[k] / sum;
            float u = v[k] * query[k];
            out[k] = u;
            sq += (double) u * u;
        }
        float norm = (float) Math.sqrt(sq);
        if (!(norm > 0) || !Float.isFinite(norm)) {
            throw new IllegalStateException("the modulated query vanished (|v ⊙ e_q| = " + norm + "): diverged parameters?");
        }
        ModulationKernels.scale(out, 1 / norm, d);
        return norm;
    }
}
