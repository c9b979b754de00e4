package dev.attend.recsys.model;

import dev.attend.recsys.data.Sample;
import dev.attend.recsys.data.UserSequences;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Trains a {@link SequenceModel} on samples with Adam and binary cross-entropy: each epoch visits the samples
 * in a seeded shuffle, in mini-batches whose samples are split over the threads (each with its own
 * gradients, summed before the step), so results depend on the seed and the thread count only.
 */
public final class Trainer {

    /**
     * @param epochs       passes over the training samples
     * @param batchSize    samples per Adam step
     * @param learningRate Adam's step size
     * @param l2           L2 weight on the parameters a step updates
     * @param threads      threads computing gradients
     * @param seed         seed of the shuffles
     */
    public record Options(int epochs, int batchSize, float learningRate, float l2, int threads, long seed) {

        public Options {
            if (epochs < 1 || batchSize < 1 || !(learningRate > 0) || !(l2 >= 0) || threads < 1) {
                throw new IllegalArgumentException("need epochs, batchSize, threads >= 1, learningRate > 0, l2 >= 0");
            }
        }

        /** 2 epochs, batches of 256, learning rate 1e-3, L2 1e-6, every core, seed 1. */
        public static Options defaults() {
            return new Options(2, 256, 1e-3f, 1e-6f, Runtime.getRuntime().availableProcessors(), 1);
        }

        public Options withEpochs(int e) {
            return new Options(e, batchSize, learningRate, l2, threads, seed);
        }

        public Options withSeed(long s) {
            return new Options(epochs, batchSize, learningRate, l2, threads, s);
        }

        public Options withThreads(int t) {
            return new Options(epochs, batchSize, learningRate, l2, t, seed);
        }

        public Options withLearningRate(float r) {
            return new Options(epochs, batchSize, r, l2, threads, seed);
        }
    }

    /** Told after every step: the epoch (from 0), samples done in it, its total, and the mean loss so far in it. */
    public interface Listener {
        void step(int epoch, long done, long total, double meanLoss);
    }

    private Trainer() {
    }

    /** Trains {@code model} in place; returns each epoch's mean training loss. */
    public static double[] train(SequenceModel model, UserSequences data, List<Sample> samples, Options options, Listener listener)
            throws InterruptedException {
        try {
            return train(model, data, samples, options, listener, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // no checkpoint: no file is touched
        }
    }

    /**
     * The same, checkpointing to {@code checkpoint} after every epoch (model, optimiser state, epochs done) and
     * resuming from it when it exists: an interrupted run continues where its last epoch ended and ends with the
     * same weights as an uninterrupted one. Epochs already done report a loss of NaN.
     */
    public static double[] train(SequenceModel model, UserSequences data, List<Sample> samples, Options options, Listener listener,
                                 Path checkpoint) throws InterruptedException, IOException {
        Objects.requireNonNull(listener, "listener");
        ModelOptimizer optimizer = new ModelOptimizer(model, options.learningRate(), options.l2());
        int firstEpoch = 0;
        if (checkpoint != null && Files.exists(checkpoint)) {
            ModelFiles.Checkpoint c = ModelFiles.loadCheckpoint(checkpoint, options.learningRate(), options.l2());
            if (!c.model().config().equals(model.config()) || c.model().repItem.rows != model.repItem.rows
                    || c.model().repCat.rows != model.repCat.rows) {
                throw new IllegalArgumentException(checkpoint + " holds another model's checkpoint: delete it or train that model");
            }
            copy(c.model().parameters(), model.parameters());
            copy(c.optimizer().state(), optimizer.state());
            optimizer.resume(c.optimizer().steps());
            firstEpoch = c.epochs();
        }
        int threads = options.threads();
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "attend-recsys-train");
            t.setDaemon(true);
            return t;
        });
        try {
            Gradients[] grads = new Gradients[threads];
            for (int t = 0; t < threads; t++) {
                grads[t] = new Gradients(model.mlp);
            }
            double[] epochLoss = new double[options.epochs()];
            Arrays.fill(epochLoss, Double.NaN);
            int[] order = new int[samples.size()];
            for (int epoch = firstEpoch; epoch < options.epochs(); epoch++) {
                shuffle(order, new SplittableRandom(options.seed() * 31 + epoch));
                double lossSum = 0;
                for (int from = 0; from < order.length; from += options.batchSize()) {
                    int to = Math.min(order.length, from + options.batchSize());
                    List<Future<Double>> parts = new ArrayList<>();
                    int per = (to - from + threads - 1) / threads;
                    for (int t = 0; t < threads; t++) {
                        int a = from + t * per;
                        int b = Math.min(to, a + per);
                        Gradients g = grads[t];
                        parts.add(pool.submit(() -> {
                            double sum = 0;
                            for (int i = a; i < b; i++) {
                                Sample s = samples.get(order[i]);
                                SequenceModel.Forward f = model.forward(data.itemsOf(s.user()), data.categoriesOf(s.user()),
                                        s.historyFrom(), s.historyTo(), s.item(), s.category());
                                sum += SequenceModel.loss(f.logit, s.label());
                                model.backward(f, SequenceModel.sigmoid(f.logit) - s.label(), g);
                            }
                            return sum;
                        }));
                    }
                    for (Future<Double> part : parts) {
                        try {
                            lossSum += part.get();
                        } catch (ExecutionException e) {
                            throw new IllegalStateException("a training thread failed", e.getCause());
                        }
                    }
                    for (int t = 1; t < threads; t++) {
                        grads[0].add(grads[t]);
                        grads[t].clear();
                    }
                    optimizer.apply(grads[0], to - from);
                    grads[0].clear();
                    listener.step(epoch, to, order.length, lossSum / to);
                }
                epochLoss[epoch] = lossSum / Math.max(1, order.length);
                if (checkpoint != null) {
                    ModelFiles.saveCheckpoint(new ModelFiles.Checkpoint(model, optimizer, epoch + 1), checkpoint);
                }
            }
            return epochLoss;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void copy(List<float[]> from, List<float[]> to) {
        for (int i = 0; i < from.size(); i++) {
            System.arraycopy(from.get(i), 0, to.get(i), 0, to.get(i).length);
        }
    }

    private static void shuffle(int[] order, SplittableRandom rnd) {
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        for (int i = order.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
}
