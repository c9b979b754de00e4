package dev.attend.search;

import dev.attend.gpu.VectorMath;
import dev.attend.search.ModulationTrainer.Pair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The InfoNCE loss of a batch of (query, passage) pairs under a {@link LexSemModulation}, and its gradients with
 * respect to the modulation's parameters (the encoder frozen): what {@link ModulationTrainer} steps on.
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
 * <p>A batch's queries run in parallel when the batch is large; each query's computation is independent and the sums
 * over queries are taken in batch order, so the result does not depend on the threads.
 */
final class ModulationLoss {

    private static final VectorSpecies<Float> SPECIES = ModulationKernels.SPECIES;
    private static final int LANES = ModulationKernels.LANES;
    /** Batches with at least this many multiply-adds (B * B * dim) run their queries on the common pool. */
    private static final long PARALLEL_WORK = 1L << 18;

    private ModulationLoss() {
    }

    /** The mean InfoNCE loss of {@code batch} (at least 2 valid pairs) under {@code m}, nothing trained. */
    static double loss(LexSemModulation m, List<Pair> batch, float temperature) {
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

    /** Refuses a pair that is not a valid input for {@code m}, naming it {@code name}. */
    static void check(LexSemModulation m, Pair p, String name) {
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
                learned ? uRows.toArray(new float[0][]) : null, learned ? Arrays.copyOf(dc, rows.size()) : null);
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
}
