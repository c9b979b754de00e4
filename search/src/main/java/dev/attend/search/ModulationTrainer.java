package dev.attend.search;

import dev.attend.gpu.VectorMath;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Trains a {@link LexSemModulation} ({@code W}, {@code b}; the encoder frozen) with InfoNCE over in-batch negatives
 * on (query, passage) pairs.
 *
 * <h2>Loss</h2>
 * For a batch of {@code B} pairs with modulated queries {@code q'_i} and passages {@code p_j}:
 * {@code s_ij = q'_i . p_j / T} (temperature {@code T}), {@code P_ij = softmax_j(s_i)_j},
 * {@code L = (1/B) sum_i -log P_ii}. Every other passage of the batch is a negative of query {@code i}; two pairs
 * of one batch with the same passage make each other's positive a negative, which the loss does not detect. A
 * pair's own hard negatives ({@link Pair#negatives}) join its row of the softmax as further columns {@code j > B}
 * (negatives of that query only), and enter step 1 like any other negative.
 *
 * <h2>Gradients, derived by hand</h2>
 * Per query {@code i} (the passages are constants):
 * <ol>
 *   <li>{@code dL/ds_ij = (P_ij - [i=j]) / B}, so {@code g_i = dL/dq'_i = sum_j (P_ij - [i=j]) p_j / (T B)}.
 *   <li>{@code q' = u / |u|}, whose Jacobian is {@code (I - q' q'^T) / |u|}:
 *       {@code dL/du = (g - q' (q' . g)) / |u|}.
 *   <li>{@code u = v ⊙ e}: {@code dL/dv = dL/du ⊙ e}.
 *   <li>{@code v = softmax(z)}, Jacobian {@code diag(v) - v v^T}: {@code dL/dz = v ⊙ (dL/dv - v . dL/dv)}. (Here
 *       {@code v . dL/dv = u . dL/du = 0}: {@code q'} is invariant to the scale of {@code v}, so the softmax's
 *       denominator cancels; the term only matters for rounding.)
 *   <li>{@code z = b + sum_t w_t W[t]}: {@code dL/db = dL/dz}, {@code dL/dW[t] = w_t dL/dz} for the query's tokens
 *       only; the batch's gradient sums these over its queries.
 *   <li>With learned token weights (LLR), {@code w_t = g_t l_t} with the given weight {@code g_t} and
 *       {@code l_t = log(1 + relu(a_t))}, {@code a_t = e . U[t] + c[t]}: {@code dL/dl_t = g_t (dL/dz . W[t])},
 *       {@code dL/da_t = dL/dl_t / (1 + a_t)} where {@code a_t > 0} (else 0), {@code dL/dU[t] = dL/da_t e},
 *       {@code dL/dc[t] = dL/da_t}.
 * </ol>
 * {@code ModulationTrainerTest} checks them against central differences of an independent double-precision loss.
 *
 * <h2>Optimiser</h2>
 * Adam ({@code beta1 = 0.9}, {@code beta2 = 0.999}, {@code eps = 1e-8}) with lazy updates of {@code W} (as
 * LazyAdam): only the rows of the tokens in a batch get their moments updated and move, with the bias correction
 * of the global step; a row's moments are allocated when its token first occurs, so memory follows the tokens seen,
 * not the vocabulary. {@code b} is updated densely every step. The moments live for one {@link #train} call; a
 * second call continues from the parameters with fresh moments.
 *
 * <h2>Determinism</h2>
 * The pairs are shuffled every epoch by a {@link SplittableRandom} of {@link Options#seed}. The forward and
 * backward passes of a batch's queries may run in parallel (large batches), but each query's computation is
 * independent and the sums over queries are taken in batch order, so the same inputs and options give the same
 * bits on the same machine (the vector width, {@link dev.attend.gpu.Simd#FLOATS}, may differ between machines).
 */
public final class ModulationTrainer {

    private static final VectorSpecies<Float> SPECIES = LexSemModulation.SPECIES;
    private static final int LANES = SPECIES.length();
    static final float BETA1 = 0.9f;
    static final float BETA2 = 0.999f;
    static final float EPSILON = 1e-8f;
    /** Batches with at least this many multiply-adds (B * B * dim) run their queries on the common pool. */
    private static final long PARALLEL_WORK = 1L << 18;

    private ModulationTrainer() {
    }

    /**
     * One training pair. The arrays are not copied: they must not change while a training reads them.
     *
     * @param tokens the query's token ids (distinct), in {@code [0, vocabulary)} of the modulation
     * @param weights one finite weight per token, as {@link LexSemModulation#modulate} will be given them at search
     *     time (1 for presence, or an IDF)
     * @param query the frozen encoder's query embedding {@code e_q}
     * @param passage the frozen encoder's unit embedding of the query's passage, as the index holds it
     * @param negatives unit embeddings of passages that are not the answer but that plain dense search ranks high for
     *     this query (hard negatives): scored against this query besides the batch's passages. Random in-batch
     *     passages alone are told apart by the unmodulated query already, and teach the modulation little
     */
    public record Pair(int[] tokens, float[] weights, float[] query, float[] passage, float[][] negatives) {
        public Pair {
            Objects.requireNonNull(tokens, "tokens");
            Objects.requireNonNull(weights, "weights");
            Objects.requireNonNull(query, "query");
            Objects.requireNonNull(passage, "passage");
            Objects.requireNonNull(negatives, "negatives");
            for (float[] n : negatives) {
                if (n == null || n.length != passage.length) {
                    throw new IllegalArgumentException("a hard negative has " + (n == null ? "no" : n.length) + " dimensions, the passage "
                            + passage.length);
                }
            }
            if (tokens.length != weights.length) {
                throw new IllegalArgumentException("tokens and weights differ in length: " + tokens.length + " vs " + weights.length);
            }
            if (query.length != passage.length) {
                throw new IllegalArgumentException("query and passage differ in dimension: " + query.length + " vs " + passage.length);
            }
        }

        /** A pair with in-batch negatives only. */
        public Pair(int[] tokens, float[] weights, float[] query, float[] passage) {
            this(tokens, weights, query, passage, new float[0][]);
        }
    }

    /**
     * Training options.
     *
     * @param epochs passes over the pairs, at least 1
     * @param batchSize the largest batch, at least 2 (in-batch negatives); the pairs are split into
     *     {@code ceil(n / batchSize)} batches whose sizes differ by at most one, so no batch is left tiny
     * @param learningRate Adam's step size, positive
     * @param temperature InfoNCE's temperature, positive
     * @param seed the shuffle's seed
     */
    public record Options(int epochs, int batchSize, float learningRate, float temperature, long seed) {
        public Options {
            if (epochs < 1) {
                throw new IllegalArgumentException("epochs must be at least 1, got " + epochs);
            }
            if (batchSize < 2) {
                throw new IllegalArgumentException("batchSize must be at least 2 (in-batch negatives), got " + batchSize);
            }
            if (!(learningRate > 0) || !Float.isFinite(learningRate)) {
                throw new IllegalArgumentException("learningRate must be positive and finite, got " + learningRate);
            }
            if (!(temperature > 0) || !Float.isFinite(temperature)) {
                throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
            }
        }

        /**
         * 5 epochs, batches of 64, learning rate 3e-3, temperature 0.1, seed 1: on CISI's generated queries (with
         * hard negatives, presence weights) the held-out results were best of 1e-3, 3e-3 and 1e-2 and of
         * temperatures 0.05 and 0.1; at 1e-2 and 0.05 the training loss fell fastest and the held-out results fell
         * below plain dense (see bench/RESULTS.md).
         */
        public static Options defaults() {
            return new Options(5, 64, 3e-3f, 0.1f, 1L);
        }
    }

    /** Progress of a training. */
    public interface Listener {
        /**
         * Called after every batch.
         *
         * @param epoch the epoch, from 0 (the index into {@link #train}'s result)
         * @param done pairs trained so far, all epochs together
         * @param total pairs the whole training will train ({@code epochs * pairs})
         * @param meanLoss the mean loss per pair of this epoch so far
         */
        void step(int epoch, long done, long total, double meanLoss);
    }

    /**
     * Trains {@code m} in place.
     *
     * @param pairs at least 2 pairs, each valid for {@code m} (tokens in range, dimensions {@code m.dim()}, finite
     *     values, non-zero query)
     * @param listener called after every batch; may be null
     * @return each epoch's mean loss per pair, measured while the epoch trained
     * @throws IllegalArgumentException on an invalid pair, naming its index
     */
    public static double[] train(LexSemModulation m, List<Pair> pairs, Options options, Listener listener) {
        Objects.requireNonNull(m, "m");
        Objects.requireNonNull(options, "options");
        int n = pairs.size();
        if (n < 2) {
            throw new IllegalArgumentException("training needs at least 2 pairs (in-batch negatives), got " + n);
        }
        for (int i = 0; i < n; i++) {
            check(m, pairs.get(i), "pair " + i);
        }
        int d = m.dim();
        Adam adam = new Adam(m);
        SplittableRandom rnd = new SplittableRandom(options.seed());
        int[] order = IntStream.range(0, n).toArray();
        int batches = (n + options.batchSize() - 1) / options.batchSize();
        double[] epochLoss = new double[options.epochs()];
        long total = (long) options.epochs() * n;
        long done = 0;
        List<Pair> batch = new ArrayList<>(options.batchSize());
        for (int epoch = 0; epoch < options.epochs(); epoch++) {
            for (int i = n - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            double lossSum = 0;
            int seen = 0;
            for (int k = 0; k < batches; k++) {
                int from = (int) ((long) n * k / batches);
                int to = (int) ((long) n * (k + 1) / batches);
                batch.clear();
                for (int i = from; i < to; i++) {
                    batch.add(pairs.get(order[i]));
                }
                Gradients g = gradients(m, batch, options.temperature());
                adam.step(g, options.learningRate(), d);
                lossSum += g.loss() * batch.size();
                seen += batch.size();
                done += batch.size();
                if (listener != null) {
                    listener.step(epoch, done, total, lossSum / seen);
                }
            }
            epochLoss[epoch] = lossSum / n;
        }
        return epochLoss;
    }

    /** The mean InfoNCE loss of {@code batch} (at least 2 valid pairs) under {@code m}, nothing trained. */
    public static double loss(LexSemModulation m, List<Pair> batch, float temperature) {
        validateBatch(m, batch, temperature);
        return forward(m, batch, temperature).loss;
    }

    private static void validateBatch(LexSemModulation m, List<Pair> batch, float temperature) {
        if (!(temperature > 0) || !Float.isFinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        if (batch.size() < 2) {
            throw new IllegalArgumentException("a batch needs at least 2 pairs (in-batch negatives), got " + batch.size());
        }
        for (int i = 0; i < batch.size(); i++) {
            check(m, batch.get(i), "pair " + i);
        }
    }

    private static void check(LexSemModulation m, Pair p, String name) {
        String error = m.check(p.tokens(), p.weights(), p.query());
        if (error != null) {
            throw new IllegalArgumentException(name + ": " + error);
        }
        if (p.passage().length != m.dim()) {
            throw new IllegalArgumentException(name + ": passage has " + p.passage().length + " dimensions; the modulation has dim " + m.dim());
        }
        for (int k = 0; k < m.dim(); k++) {
            if (!Float.isFinite(p.passage()[k])) {
                throw new IllegalArgumentException(name + ": passage component " + k + " is " + p.passage()[k] + ", not finite");
            }
        }
    }

    /**
     * A batch's loss and gradient: {@code dW} holds the rows of the batch's tokens only, {@code dW[r]} the gradient of
     * {@code W[tokens[r]]}, in the order the tokens first occur in the batch.
     */
    record Gradients(double loss, int[] tokens, float[][] dW, float[] db, float[][] dU, float[] dc) {
    }

    /**
     * What the forward pass of a batch keeps for the backward pass: besides the activations, each query's token
     * weights as {@code z} used them and, with learned token weights, each token's {@code a_t} (else null).
     */
    private record Forward(float[][] v, float[][] q, float[] norm, double[][] prob, double loss, float[][] weights, float[][] pre) {
    }

    private static Forward forward(LexSemModulation m, List<Pair> batch, float temperature) {
        int bsz = batch.size();
        int d = m.dim();
        float[][] v = new float[bsz][d];
        float[][] q = new float[bsz][d];
        float[] norm = new float[bsz];
        float[][] weights = new float[bsz][];
        float[][] pre = m.learnsWeights() ? new float[bsz][] : null;
        boolean parallel = (long) bsz * bsz * d >= PARALLEL_WORK;
        each(bsz, parallel, i -> {
            Pair p = batch.get(i);
            if (pre != null) {
                pre[i] = new float[p.tokens().length];
            }
            weights[i] = m.tokenWeights(p.tokens(), p.weights(), p.query(), pre == null ? null : pre[i]);
            norm[i] = m.forward(p.tokens(), weights[i], p.query(), v[i], q[i]);
        });
        double[][] prob = new double[bsz][];
        double[] loss = new double[bsz];
        double invT = 1.0 / temperature;
        each(bsz, parallel, i -> {
            float[][] hard = batch.get(i).negatives();
            double[] s = prob[i] = new double[bsz + hard.length]; // the batch's passages, then this query's hard negatives
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < s.length; j++) {
                s[j] = VectorMath.dotOrdered(q[i], 0, j < bsz ? batch.get(j).passage() : hard[j - bsz], 0, d) * invT;
                max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (double x : s) {
                sum += Math.exp(x - max);
            }
            double lse = max + Math.log(sum);
            loss[i] = lse - s[i];
            for (int j = 0; j < s.length; j++) {
                s[j] = Math.exp(s[j] - lse);
            }
        });
        double total = 0;
        for (double l : loss) {
            total += l;
        }
        return new Forward(v, q, norm, prob, total / bsz, weights, pre);
    }

    /** The loss and the gradients of {@code batch} (see the class comment for the derivation). */
    static Gradients gradients(LexSemModulation m, List<Pair> batch, float temperature) {
        validateBatch(m, batch, temperature);
        int bsz = batch.size();
        int d = m.dim();
        Forward f = forward(m, batch, temperature);
        boolean parallel = (long) bsz * bsz * d >= PARALLEL_WORK;
        float[][] dz = new float[bsz][d];
        each(bsz, parallel, i -> {
            float[] g = dz[i]; // g, then dL/du, dL/dv and dL/dz in place
            double[] prob = f.prob[i];
            float[][] hard = batch.get(i).negatives();
            for (int j = 0; j < prob.length; j++) {
                double coef = (prob[j] - (i == j ? 1 : 0)) / ((double) temperature * bsz);
                VectorMath.axpy((float) coef, j < bsz ? batch.get(j).passage() : hard[j - bsz], 0, g, 0, d);
            }
            backward(f.q[i], f.norm[i], batch.get(i).query(), f.v[i], g, d);
        });
        float[] db = new float[d];
        Map<Integer, Integer> slot = new HashMap<>();
        List<float[]> rows = new ArrayList<>();
        List<float[]> uRows = new ArrayList<>();
        List<Integer> tokens = new ArrayList<>();
        boolean learned = f.pre != null;
        int tokenCount = 0;
        for (Pair p : batch) {
            tokenCount += p.tokens().length;
        }
        float[] dc = learned ? new float[tokenCount] : null; // one per slot; at most one slot per token of the batch
        for (int i = 0; i < bsz; i++) {
            VectorMath.axpy(1f, dz[i], 0, db, 0, d);
            Pair p = batch.get(i);
            for (int t = 0; t < p.tokens().length; t++) {
                int token = p.tokens()[t];
                Integer s = slot.get(token);
                if (s == null) {
                    s = rows.size();
                    slot.put(token, s);
                    rows.add(new float[d]);
                    if (learned) {
                        uRows.add(new float[d]);
                    }
                    tokens.add(token);
                }
                VectorMath.axpy(f.weights[i][t], dz[i], 0, rows.get(s), 0, d);
                float a = learned ? f.pre[i][t] : 0;
                if (a > 0) {
                    // dL/da = g_t (dL/dz . W[t]) / (1 + a); nothing flows where relu is flat
                    float da = (float) (p.weights()[t] * VectorMath.dotOrdered(dz[i], 0, m.w, token * d, d) / (1 + a));
                    VectorMath.axpy(da, p.query(), 0, uRows.get(s), 0, d);
                    dc[s] += da;
                }
            }
        }
        return new Gradients(f.loss, tokens.stream().mapToInt(Integer::intValue).toArray(), rows.toArray(new float[0][]), db,
                learned ? uRows.toArray(new float[0][]) : null, learned ? java.util.Arrays.copyOf(dc, rows.size()) : null);
    }

    /**
     * Turns {@code g = dL/dq'} into {@code dL/dz}, in place: {@code dL/du = (g - q'(q'.g))/|u|},
     * {@code dL/dv = dL/du ⊙ e}, {@code dL/dz = v ⊙ (dL/dv - v.dL/dv)}.
     */
    private static void backward(float[] q, float norm, float[] e, float[] v, float[] g, int d) {
        float qg = (float) VectorMath.dotOrdered(q, 0, g, 0, d);
        float invNorm = 1 / norm;
        FloatVector qgv = FloatVector.broadcast(SPECIES, qg);
        FloatVector inv = FloatVector.broadcast(SPECIES, invNorm);
        int k = 0;
        for (; k + LANES <= d; k += LANES) {
            FloatVector qk = FloatVector.fromArray(SPECIES, q, k);
            FloatVector gk = FloatVector.fromArray(SPECIES, g, k);
            FloatVector du = qk.neg().fma(qgv, gk).mul(inv); // (g - q' (q'.g)) / |u|
            du.mul(FloatVector.fromArray(SPECIES, e, k)).intoArray(g, k); // dL/dv
        }
        for (; k < d; k++) {
            float du = Math.fma(-q[k], qg, g[k]) * invNorm;
            g[k] = du * e[k];
        }
        // v . dL/dv = u . dL/du = 0 in exact arithmetic (dL/du is orthogonal to u: q' does not depend on the scale of
        // v, so neither does the loss on softmax's denominator); the term is kept for the rounding and for clarity
        float vdv = (float) VectorMath.dotOrdered(v, 0, g, 0, d);
        FloatVector vdvv = FloatVector.broadcast(SPECIES, vdv);
        k = 0;
        for (; k + LANES <= d; k += LANES) {
            FloatVector.fromArray(SPECIES, g, k).sub(vdvv).mul(FloatVector.fromArray(SPECIES, v, k)).intoArray(g, k);
        }
        for (; k < d; k++) {
            g[k] = (g[k] - vdv) * v[k];
        }
    }

    private static void each(int n, boolean parallel, IntConsumer body) {
        if (parallel) {
            IntStream.range(0, n).parallel().forEach(body);
        } else {
            for (int i = 0; i < n; i++) {
                body.accept(i);
            }
        }
    }

    /**
     * Adam, lazy for the rows of {@code W} (and of {@code U}, {@code c} with learned token weights): moments per row,
     * allocated when the row's token first occurs.
     */
    private static final class Adam {
        final LexSemModulation m;
        final float[][] mW;
        final float[][] vW;
        final float[] mB;
        final float[] vB;
        final float[][] mU;
        final float[][] vU;
        final float[] mC;
        final float[] vC;
        long step;

        Adam(LexSemModulation m) {
            this.m = m;
            mW = new float[m.vocabulary()][];
            vW = new float[m.vocabulary()][];
            mB = new float[m.dim()];
            vB = new float[m.dim()];
            boolean learned = m.learnsWeights();
            mU = learned ? new float[m.vocabulary()][] : null;
            vU = learned ? new float[m.vocabulary()][] : null;
            mC = learned ? new float[m.vocabulary()] : null;
            vC = learned ? new float[m.vocabulary()] : null;
        }

        void step(Gradients g, float lr, int d) {
            step++;
            float c1 = (float) (1 - Math.pow(BETA1, step));
            float c2 = (float) (1 - Math.pow(BETA2, step));
            for (int r = 0; r < g.tokens().length; r++) {
                int t = g.tokens()[r];
                if (mW[t] == null) {
                    mW[t] = new float[d];
                    vW[t] = new float[d];
                }
                update(m.w, t * d, mW[t], vW[t], g.dW()[r], d, lr, c1, c2);
                if (g.dU() != null) {
                    if (mU[t] == null) {
                        mU[t] = new float[d];
                        vU[t] = new float[d];
                    }
                    update(m.u, t * d, mU[t], vU[t], g.dU()[r], d, lr, c1, c2);
                    float gc = g.dc()[r];
                    mC[t] = mC[t] * BETA1 + gc * (1 - BETA1);
                    vC[t] = vC[t] * BETA2 + gc * gc * (1 - BETA2);
                    m.c[t] -= mC[t] / c1 * lr / ((float) Math.sqrt(vC[t] / c2) + EPSILON);
                }
            }
            update(m.b, 0, mB, vB, g.db(), d, lr, c1, c2);
        }

        /** {@code p[off + k] -= lr mhat_k / (sqrt(vhat_k) + eps)} after the moment updates with gradient {@code g}. */
        private static void update(float[] p, int off, float[] mom, float[] vel, float[] g, int d, float lr, float c1, float c2) {
            FloatVector b1 = FloatVector.broadcast(SPECIES, BETA1);
            FloatVector b1c = FloatVector.broadcast(SPECIES, 1 - BETA1);
            FloatVector b2 = FloatVector.broadcast(SPECIES, BETA2);
            FloatVector b2c = FloatVector.broadcast(SPECIES, 1 - BETA2);
            FloatVector c1v = FloatVector.broadcast(SPECIES, c1);
            FloatVector c2v = FloatVector.broadcast(SPECIES, c2);
            FloatVector lrv = FloatVector.broadcast(SPECIES, lr);
            FloatVector eps = FloatVector.broadcast(SPECIES, EPSILON);
            int k = 0;
            for (; k + LANES <= d; k += LANES) {
                FloatVector gk = FloatVector.fromArray(SPECIES, g, k);
                FloatVector mk = FloatVector.fromArray(SPECIES, mom, k).mul(b1).add(gk.mul(b1c));
                FloatVector vk = FloatVector.fromArray(SPECIES, vel, k).mul(b2).add(gk.mul(gk).mul(b2c));
                mk.intoArray(mom, k);
                vk.intoArray(vel, k);
                FloatVector stepK = mk.div(c1v).mul(lrv).div(vk.div(c2v).sqrt().add(eps));
                FloatVector.fromArray(SPECIES, p, off + k).sub(stepK).intoArray(p, off + k);
            }
            for (; k < d; k++) {
                float gk = g[k];
                float mk = mom[k] * BETA1 + gk * (1 - BETA1);
                float vk = vel[k] * BETA2 + gk * gk * (1 - BETA2);
                mom[k] = mk;
                vel[k] = vk;
                p[off + k] -= mk / c1 * lr / ((float) Math.sqrt(vk / c2) + EPSILON);
            }
        }
    }
}
