package dev.attend.search;

import dev.attend.gpu.Simd;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Trains a {@link LexSemModulation} ({@code W}, {@code b}, and with learned token weights {@code U}, {@code c}; the
 * encoder frozen) with InfoNCE over in-batch negatives on (query, passage) pairs: each batch's loss and gradients
 * come from {@link ModulationLoss} (which derives them), its step from {@link ModulationOptimizer} (lazy Adam).
 *
 * <h2>Determinism</h2>
 * The pairs are shuffled every epoch by a {@link SplittableRandom} of {@link Options#seed}. The forward and
 * backward passes of a batch's queries may run in parallel (large batches), but each query's computation is
 * independent and the sums over queries are taken in batch order, so the same inputs and options give the same
 * bits on the same machine (the vector width, {@link Simd#FLOATS}, may differ between machines).
 */
public final class ModulationTrainer {

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
            ModulationLoss.check(m, pairs.get(i), "pair " + i);
        }
        ModulationOptimizer optimizer = new ModulationOptimizer(m, options.learningRate());
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
                ModulationLoss.Gradients g = ModulationLoss.gradients(m, batch, options.temperature());
                optimizer.step(g);
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
}
