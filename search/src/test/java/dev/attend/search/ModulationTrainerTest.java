package dev.attend.search;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attend.gpu.VectorMath;
import dev.attend.search.ModulationLoss.Gradients;
import dev.attend.search.ModulationTrainer.Options;
import dev.attend.search.ModulationTrainer.Pair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ModulationTrainerTest {

    private static final long SEED = Long.getLong("attend.test.seed", 11L);

    @BeforeAll
    static void seed() {
        System.out.println("ModulationTrainerTest seed " + SEED + " (override with -Dattend.test.seed=N)");
    }

    static float[] unit(SplittableRandom rnd, int dim) {
        float[] a = LexSemModulationTest.gaussian(rnd, dim, 1);
        ModulationKernels.scale(a, (float) (1 / Math.sqrt(VectorMath.dotOrdered(a, 0, a, 0, dim))), dim);
        return a;
    }

    // ---- gradient check ----

    /** The batch loss from the definition, in double precision, for parameters {@code w} (token-major) and {@code b}. */
    static double referenceLoss(double[] w, double[] b, int dim, List<Pair> batch, double temperature) {
        return referenceLoss(w, b, null, null, dim, batch, temperature);
    }

    /** The same with learned token weights when {@code u} and {@code c} are given: w_t log(1 + relu(e . U[t] + c[t])). */
    static double referenceLoss(double[] w, double[] b, double[] u, double[] c, int dim, List<Pair> batch, double temperature) {
        int n = batch.size();
        double[][] q = new double[n][dim];
        for (int i = 0; i < n; i++) {
            Pair p = batch.get(i);
            double[] z = b.clone();
            for (int t = 0; t < p.tokens().length; t++) {
                int token = p.tokens()[t];
                double weight = p.weights()[t];
                if (u != null) {
                    double a = c[token];
                    for (int k = 0; k < dim; k++) {
                        a += p.query()[k] * u[token * dim + k];
                    }
                    weight *= Math.log1p(Math.max(0, a));
                }
                for (int k = 0; k < dim; k++) {
                    z[k] += weight * w[token * dim + k];
                }
            }
            double max = Arrays.stream(z).max().orElseThrow();
            double sum = 0;
            for (int k = 0; k < dim; k++) {
                z[k] = Math.exp(z[k] - max);
                sum += z[k];
            }
            double sq = 0;
            for (int k = 0; k < dim; k++) {
                q[i][k] = z[k] / sum * p.query()[k];
                sq += q[i][k] * q[i][k];
            }
            for (int k = 0; k < dim; k++) {
                q[i][k] /= Math.sqrt(sq);
            }
        }
        double loss = 0;
        for (int i = 0; i < n; i++) {
            double[] s = new double[n];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                for (int k = 0; k < dim; k++) {
                    s[j] += q[i][k] * batch.get(j).passage()[k];
                }
                s[j] /= temperature;
                max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) {
                sum += Math.exp(s[j] - max);
            }
            loss += max + Math.log(sum) - s[i];
        }
        return loss / n;
    }

    @Test
    void handDerivedGradientsMatchCentralDifferences() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int vocabulary = 12;
        int dim = 6;
        float temperature = 0.05f;
        for (int trial = 0; trial < 5; trial++) {
            LexSemModulation m = LexSemModulationTest.randomModulation(rnd, vocabulary, dim, 0.5);
            List<Pair> batch = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int[] tokens = LexSemModulationTest.tokens(rnd, vocabulary - 2, rnd.nextInt(1, 5)); // tokens 10, 11 unused
                batch.add(new Pair(tokens, LexSemModulationTest.weights(rnd, tokens.length), LexSemModulationTest.gaussian(rnd, dim, 1),
                        unit(rnd, dim)));
            }
            Gradients g = ModulationLoss.gradients(m, batch, temperature);
            double[] w = new double[m.w.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = m.w[i];
            }
            double[] b = new double[dim];
            for (int k = 0; k < dim; k++) {
                b[k] = m.b[k];
            }
            double loss = referenceLoss(w, b, dim, batch, temperature);
            assertThat(g.loss()).isCloseTo(loss, within(1e-5 * Math.max(1, loss)));
            assertThat(ModulationLoss.loss(m, batch, temperature)).isEqualTo(g.loss());

            double h = 1e-6;
            double[] numB = new double[dim];
            for (int k = 0; k < dim; k++) {
                numB[k] = centralDifference(b, k, h, () -> referenceLoss(w, b, dim, batch, temperature));
            }
            double[][] numW = new double[vocabulary][dim];
            for (int t = 0; t < vocabulary; t++) {
                for (int k = 0; k < dim; k++) {
                    numW[t][k] = centralDifference(w, t * dim + k, h, () -> referenceLoss(w, b, dim, batch, temperature));
                }
            }
            double scale = Arrays.stream(numB).map(Math::abs).max().orElseThrow();
            for (double[] row : numW) {
                scale = Math.max(scale, Arrays.stream(row).map(Math::abs).max().orElseThrow());
            }
            // the analytic gradients come from the float forward pass: a relative error of about 1e-6 is float's,
            // anything wrong in a derivation would be of the order of the gradient itself
            double tolerance = 1e-4 * scale + 1e-6;
            double worst = 0;
            for (int k = 0; k < dim; k++) {
                worst = Math.max(worst, Math.abs(g.db()[k] - numB[k]));
                assertThat((double) g.db()[k]).as("dL/db[%d]", k).isCloseTo(numB[k], within(tolerance));
            }
            double[][] analyticW = new double[vocabulary][dim];
            for (int r = 0; r < g.tokens().length; r++) {
                for (int k = 0; k < dim; k++) {
                    analyticW[g.tokens()[r]][k] = g.dW()[r][k];
                }
            }
            for (int t = 0; t < vocabulary; t++) {
                for (int k = 0; k < dim; k++) {
                    worst = Math.max(worst, Math.abs(analyticW[t][k] - numW[t][k]));
                    assertThat(analyticW[t][k]).as("dL/dW[%d][%d]", t, k).isCloseTo(numW[t][k], within(tolerance));
                }
            }
            assertThat(g.tokens()).as("only the batch's tokens have rows").doesNotContain(10, 11).doesNotHaveDuplicates();
            System.out.printf("gradient check %d: loss %.6f, largest gradient %.4g, worst difference %.3g%n", trial, loss, scale, worst);
        }
    }

    @Test
    void learnedTokenWeightGradientsMatchCentralDifferences() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        int vocabulary = 12;
        int dim = 6;
        float temperature = 0.05f;
        for (int trial = 0; trial < 5; trial++) {
            LexSemModulation random = LexSemModulationTest.randomModulation(rnd, vocabulary, dim, 0.5);
            LexSemModulation m = LexSemModulation.withLearnedWeights(vocabulary, dim);
            System.arraycopy(random.w, 0, m.w, 0, m.w.length);
            System.arraycopy(random.b, 0, m.b, 0, dim);
            for (int i = 0; i < m.u.length; i++) {
                m.u[i] = (float) (0.3 * rnd.nextGaussian());
            }
            for (int t = 0; t < vocabulary; t++) {
                m.c[t] = (float) rnd.nextDouble(-0.5, 2); // some tokens where relu is flat
            }
            List<Pair> batch = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int[] tokens = LexSemModulationTest.tokens(rnd, vocabulary - 2, rnd.nextInt(1, 5));
                batch.add(new Pair(tokens, LexSemModulationTest.weights(rnd, tokens.length), LexSemModulationTest.gaussian(rnd, dim, 1),
                        unit(rnd, dim)));
            }
            Gradients g = ModulationLoss.gradients(m, batch, temperature);
            double[] w = toDouble(m.w);
            double[] b = toDouble(m.b);
            double[] u = toDouble(m.u);
            double[] c = toDouble(m.c);
            DoubleSupplier loss = () -> referenceLoss(w, b, u, c, dim, batch, temperature);
            assertThat(g.loss()).isCloseTo(loss.getAsDouble(), within(1e-5 * Math.max(1, loss.getAsDouble())));
            double h = 1e-6;
            double[][] numW = new double[vocabulary][dim];
            double[][] numU = new double[vocabulary][dim];
            double[] numC = new double[vocabulary];
            double scale = 0;
            for (int t = 0; t < vocabulary; t++) {
                for (int k = 0; k < dim; k++) {
                    numW[t][k] = centralDifference(w, t * dim + k, h, loss);
                    numU[t][k] = centralDifference(u, t * dim + k, h, loss);
                    scale = Math.max(scale, Math.max(Math.abs(numW[t][k]), Math.abs(numU[t][k])));
                }
                numC[t] = centralDifference(c, t, h, loss);
                scale = Math.max(scale, Math.abs(numC[t]));
            }
            double tolerance = 1e-4 * scale + 1e-6;
            double[][] analyticW = new double[vocabulary][dim];
            double[][] analyticU = new double[vocabulary][dim];
            double[] analyticC = new double[vocabulary];
            for (int r = 0; r < g.tokens().length; r++) {
                for (int k = 0; k < dim; k++) {
                    analyticW[g.tokens()[r]][k] = g.dW()[r][k];
                    analyticU[g.tokens()[r]][k] = g.dU()[r][k];
                }
                analyticC[g.tokens()[r]] = g.dc()[r];
            }
            boolean anyFlowing = false;
            for (int t = 0; t < vocabulary; t++) {
                for (int k = 0; k < dim; k++) {
                    assertThat(analyticW[t][k]).as("dL/dW[%d][%d]", t, k).isCloseTo(numW[t][k], within(tolerance));
                    assertThat(analyticU[t][k]).as("dL/dU[%d][%d]", t, k).isCloseTo(numU[t][k], within(tolerance));
                }
                assertThat(analyticC[t]).as("dL/dc[%d]", t).isCloseTo(numC[t], within(tolerance));
                anyFlowing |= Math.abs(numC[t]) > 100 * tolerance;
            }
            assertThat(anyFlowing).as("some token weight's gradient is far from zero (the check checks something)").isTrue();
        }
    }

    @Test
    void learnedTokenWeightsStartAsPresenceAndTrainingMovesThem() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        float[][] passages = passages(rnd);
        List<Pair> train = queries(rnd, passages, 1024);
        LexSemModulation slr = new LexSemModulation(GROUPS + NOISE_TOKENS, DIM);
        LexSemModulation llr = LexSemModulation.withLearnedWeights(GROUPS + NOISE_TOKENS, DIM);
        Pair probe = train.getFirst();
        assertThat(llr.tokenWeights(probe.tokens(), probe.weights(), probe.query(), null)).as("every learned weight starts at 1")
                .containsExactly(probe.weights());
        assertThat(llr.modulate(probe.tokens(), probe.weights(), probe.query())).containsExactly(
                slr.modulate(probe.tokens(), probe.weights(), probe.query()));
        double[] losses = ModulationTrainer.train(llr, train, new Options(4, 64, 1e-2f, 0.1f, 3), null);
        assertThat(losses[losses.length - 1]).as("training lowers the loss").isLessThan(losses[0]);
        float[] learned = llr.tokenWeights(probe.tokens(), probe.weights(), probe.query(), null);
        assertThat(learned).as("the tokens' weights moved").isNotEqualTo(probe.weights());
        // and they depend on the query: the same token weighs differently in another query that holds it
        int token = probe.tokens()[0];
        Pair other = train.stream().skip(1).filter(p -> Arrays.stream(p.tokens()).anyMatch(t -> t == token)).findFirst().orElseThrow();
        int at = 0;
        while (other.tokens()[at] != token) {
            at++;
        }
        float inOther = llr.tokenWeights(other.tokens(), other.weights(), other.query(), null)[at];
        assertThat(inOther).as("token %d's weight in two queries", token).isNotEqualTo(learned[0]);
        System.out.printf("learned token weights of a probe query %s: %s; token %d in another query: %s%n", Arrays.toString(probe.tokens()),
                Arrays.toString(learned), token, inOther);
    }

    private static double[] toDouble(float[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }

    private static double centralDifference(double[] x, int i, double h, DoubleSupplier f) {
        double keep = x[i];
        x[i] = keep + h;
        double plus = f.getAsDouble();
        x[i] = keep - h;
        double minus = f.getAsDouble();
        x[i] = keep;
        return (plus - minus) / (2 * h);
    }

    // ---- a synthetic task where modulation helps ----

    private static final int DIM = 32;
    private static final int GROUPS = 8; // of DIM / GROUPS dimensions each; token g names group g
    private static final int NOISE_TOKENS = 8; // tokens GROUPS .. GROUPS + NOISE_TOKENS - 1 say nothing
    private static final int PASSAGES = 256;

    /**
     * A query for passage {@code p}: it shows {@code p} only on three of the eight dimension groups, which its tokens
     * name; on the other dimensions it carries two other passages (a query embedding pulled towards other
     * content), and noise everywhere. Plain cosine is torn between the three passages; a modulation that learns
     * "token g: keep group g" sees the true one.
     */
    static Pair query(SplittableRandom rnd, float[][] passages, int p) {
        int[] groups = rnd.ints(0, GROUPS).distinct().limit(3).toArray();
        int d1 = (p + rnd.nextInt(1, PASSAGES)) % PASSAGES;
        int d2 = (p + rnd.nextInt(1, PASSAGES)) % PASSAGES;
        boolean[] focus = new boolean[DIM];
        for (int g : groups) {
            for (int k = g * (DIM / GROUPS); k < (g + 1) * (DIM / GROUPS); k++) {
                focus[k] = true;
            }
        }
        float[] e = new float[DIM];
        for (int k = 0; k < DIM; k++) {
            e[k] = (focus[k] ? passages[p][k] : 0.8f * (passages[d1][k] + passages[d2][k])) + (float) (0.03 * rnd.nextGaussian());
        }
        int[] tokens = new int[5];
        System.arraycopy(groups, 0, tokens, 0, 3);
        int[] noise = rnd.ints(GROUPS, GROUPS + NOISE_TOKENS).distinct().limit(2).toArray();
        System.arraycopy(noise, 0, tokens, 3, 2);
        float[] weights = new float[5];
        Arrays.fill(weights, 1f);
        return new Pair(tokens, weights, e, passages[p]);
    }

    static float[][] passages(SplittableRandom rnd) {
        float[][] passages = new float[PASSAGES][];
        for (int p = 0; p < PASSAGES; p++) {
            passages[p] = unit(rnd, DIM);
        }
        return passages;
    }

    /** {@code n} queries ({@link #query}) of passages drawn at random. */
    static List<Pair> queries(SplittableRandom rnd, float[][] passages, int n) {
        List<Pair> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(query(rnd, passages, rnd.nextInt(PASSAGES)));
        }
        return out;
    }

    /** Top-1 accuracy of retrieving each query's passage among all passages. */
    static double accuracy(LexSemModulation m, List<Pair> queries, float[][] passages) {
        int hits = 0;
        for (Pair q : queries) {
            float[] v = m.modulate(q.tokens(), q.weights(), q.query());
            int best = -1;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < passages.length; j++) {
                double s = VectorMath.dotOrdered(v, 0, passages[j], 0, DIM);
                if (s > bestScore) {
                    bestScore = s;
                    best = j;
                }
            }
            hits += passages[best] == q.passage() ? 1 : 0;
        }
        return (double) hits / queries.size();
    }

    /** Mean loss over consecutive batches of 64. */
    static double heldOutLoss(LexSemModulation m, List<Pair> pairs, float temperature) {
        double sum = 0;
        int batches = 0;
        for (int from = 0; from + 64 <= pairs.size(); from += 64) {
            sum += ModulationLoss.loss(m, pairs.subList(from, from + 64), temperature);
            batches++;
        }
        return sum / batches;
    }

    @Test
    void trainingLearnsWhichDimensionsAQuerysTokensPointAt() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        float[][] passages = passages(rnd);
        List<Pair> train = queries(rnd, passages, 4096);
        List<Pair> heldOut = queries(rnd, passages, 1024);
        LexSemModulation m = new LexSemModulation(GROUPS + NOISE_TOKENS, DIM);
        Options o = new Options(6, 64, Float.parseFloat(System.getProperty("attend.test.lr", "0.01")), 0.05f, SEED);
        double lossBefore = heldOutLoss(m, heldOut, o.temperature());
        double accuracyBefore = accuracy(m, heldOut, passages);
        long start = System.nanoTime();
        double[] epochs = ModulationTrainer.train(m, train, o, null);
        long ms = (System.nanoTime() - start) / 1_000_000;
        double lossAfter = heldOutLoss(m, heldOut, o.temperature());
        double accuracyAfter = accuracy(m, heldOut, passages);
        System.out.printf("synthetic: epoch losses %s (%d ms)%n", Arrays.toString(epochs), ms);
        System.out.printf("synthetic: held-out loss %.4f -> %.4f, top-1 of %d passages %.3f unmodulated -> %.3f modulated%n", lossBefore,
                lossAfter, PASSAGES, accuracyBefore, accuracyAfter);
        assertThat(epochs[epochs.length - 1]).isLessThan(epochs[0]);
        assertThat(lossAfter).isLessThan(0.5 * lossBefore);
        assertThat(accuracyAfter).isGreaterThan(accuracyBefore + 0.3);
    }

    // ---- the training loop ----

    @Test
    void trainingIsDeterministicAndReportsProgress() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        float[][] passages = passages(rnd);
        List<Pair> train = queries(rnd, passages, 700);
        Options o = new Options(2, 300, 0.01f, 0.05f, 7); // 300 * 300 * 32 multiply-adds: the parallel path
        LexSemModulation a = new LexSemModulation(GROUPS + NOISE_TOKENS, DIM);
        List<long[]> steps = new ArrayList<>();
        double[] la = ModulationTrainer.train(a, train, o, (epoch, done, total, loss) -> {
            assertThat(loss).isFinite().isPositive();
            steps.add(new long[] {epoch, done, total});
        });
        LexSemModulation b = new LexSemModulation(GROUPS + NOISE_TOKENS, DIM);
        double[] lb = ModulationTrainer.train(b, train, o, null);
        assertThat(lb).containsExactly(la);
        assertThat(b.w).containsExactly(a.w);
        assertThat(b.b).containsExactly(a.b);
        // 700 pairs in batches of at most 300: three batches of 233 or 234 per epoch
        assertThat(steps).hasSize(6);
        assertThat(steps.get(2)).containsExactly(0, 700, 1400);
        assertThat(steps.get(5)).containsExactly(1, 1400, 1400);
        LexSemModulation c = new LexSemModulation(GROUPS + NOISE_TOKENS, DIM);
        ModulationTrainer.train(c, train, new Options(2, 300, 0.01f, 0.05f, 8), null);
        assertThat(c.w).as("another seed, another order").isNotEqualTo(a.w);
    }

    @Test
    void badOptionsAndPairsAreRejected() {
        assertThatThrownBy(() -> new Options(0, 64, 1e-3f, 0.05f, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("epochs");
        assertThatThrownBy(() -> new Options(1, 1, 1e-3f, 0.05f, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("batchSize");
        assertThatThrownBy(() -> new Options(1, 64, 0, 0.05f, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("learningRate");
        assertThatThrownBy(() -> new Options(1, 64, Float.NaN, 0.05f, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("learningRate");
        assertThatThrownBy(() -> new Options(1, 64, 1e-3f, -1, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("temperature");
        assertThat(Options.defaults().temperature()).isEqualTo(0.1f);
        assertThatThrownBy(() -> new Pair(new int[] {1}, new float[0], new float[2], new float[2])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Pair(new int[0], new float[0], new float[2], new float[3])).isInstanceOf(IllegalArgumentException.class);

        LexSemModulation m = new LexSemModulation(4, 2);
        Pair good = new Pair(new int[] {1}, new float[] {1}, new float[] {1, 0}, new float[] {0, 1});
        Pair badToken = new Pair(new int[] {4}, new float[] {1}, new float[] {1, 0}, new float[] {0, 1});
        Pair badPassage = new Pair(new int[] {1}, new float[] {1}, new float[] {1, 0}, new float[] {Float.NaN, 1});
        assertThatThrownBy(() -> ModulationTrainer.train(m, List.of(good, badToken), Options.defaults(), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pair 1: token 4");
        assertThatThrownBy(() -> ModulationTrainer.train(m, List.of(badPassage, good), Options.defaults(), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pair 0: passage component 0");
        assertThatThrownBy(() -> ModulationTrainer.train(m, List.of(good), Options.defaults(), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 2 pairs");
        assertThatThrownBy(() -> ModulationLoss.loss(m, List.of(good, good), 0f)).isInstanceOf(IllegalArgumentException.class);
    }
}
