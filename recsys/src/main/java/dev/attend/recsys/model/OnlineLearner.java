package dev.attend.recsys.model;

import dev.attend.recsys.data.ItemCatalog;
import java.util.SplittableRandom;

/**
 * Trains a model from a stream of behaviours, one event at a time (Monolith's online training): every event first
 * scores (prequential: score, then update, so each score is a prediction the model had not trained on) and then,
 * for a configurable fraction of events, drives one Adam step with the event as a positive and sampled negatives
 * against the user's history. An item or category never seen gets a dense id and embedding rows on the spot
 * ({@link ItemCatalog#learn}, {@link SequenceModel#ensureRows}).
 *
 * <p>Negatives are items of recent behaviours drawn uniformly from a ring of the last {@link Options#recentItems}
 * events, which samples by recent frequency (DARE's protocol samples by frequency), leaving out the positive and
 * the items of the history it is scored against.
 *
 * <p>One learner per model; {@link #observe} is synchronised. Readers of the model (a {@code Recommender} serving
 * it) run at the same time and see rows as they move, without locks (as in Hogwild training): a score read during
 * a step mixes the weights before and after it.
 */
public final class OnlineLearner {

    /**
     * @param stepFraction  the fraction of events that drive a step (1 = every event; 0 = scoring only)
     * @param negatives     sampled negatives per positive
     * @param historyLength the most recent behaviours of the user a step and a score use
     * @param learningRate  Adam's learning rate
     * @param l2            L2 regularisation of the parameters a step touches
     * @param recentItems   how many recent events the negatives are drawn from
     * @param seed          seeds the step choice and the negatives
     */
    public record Options(double stepFraction, int negatives, int historyLength, float learningRate, float l2, int recentItems, long seed) {

        public Options {
            if (!(stepFraction >= 0 && stepFraction <= 1)) {
                throw new IllegalArgumentException("step fraction must be in [0, 1], got " + stepFraction);
            }
            if (negatives < 1) {
                throw new IllegalArgumentException("negatives must be >= 1, got " + negatives);
            }
            if (historyLength < 1) {
                throw new IllegalArgumentException("history length must be >= 1, got " + historyLength);
            }
            if (!(learningRate > 0) || Float.isInfinite(learningRate)) {
                throw new IllegalArgumentException("learning rate must be positive and finite, got " + learningRate);
            }
            if (!(l2 >= 0) || Float.isInfinite(l2)) {
                throw new IllegalArgumentException("l2 must be >= 0 and finite, got " + l2);
            }
            if (recentItems < 1) {
                throw new IllegalArgumentException("recent items must be >= 1, got " + recentItems);
            }
        }

        /** Every event steps, two negatives, the last 200 behaviours, Adam at 10^-3 with L2 10^-6, negatives from the last 100,000 events. */
        public static Options defaults() {
            return new Options(1.0, 2, 200, 1e-3f, 1e-6f, 100_000, 1);
        }

        public Options withStepFraction(double f) {
            return new Options(f, negatives, historyLength, learningRate, l2, recentItems, seed);
        }

        public Options withLearningRate(float r) {
            return new Options(stepFraction, negatives, historyLength, r, l2, recentItems, seed);
        }
    }

    /**
     * What one event gave before the model learned from it: the scored items (the event's first, then the
     * negatives) as source ids with their categories, their logits and labels, and whether a step followed.
     */
    public record Outcome(long[] itemIds, long[] categoryIds, float[] logits, float[] labels, boolean stepped) {
    }

    private final SequenceModel model;
    private final ItemCatalog catalog;
    private final Options options;
    private final ModelOptimizer optimizer;
    private final Gradients gradients;
    private final SplittableRandom rnd;
    private final int[] recent;
    private int recentSize;
    private int recentNext;
    private long events;
    private long steps;

    /** A learner that updates {@code model} in place and adds new ids to {@code catalog} (the model's). */
    public OnlineLearner(SequenceModel model, ItemCatalog catalog, Options options) {
        if (catalog.items() != model.items() || catalog.categories() != model.categories()) {
            throw new IllegalArgumentException("the catalog (" + catalog.items() + " items, " + catalog.categories()
                    + " categories) is not the model's (" + model.items() + ", " + model.categories() + ")");
        }
        this.model = model;
        this.catalog = catalog;
        this.options = options;
        this.optimizer = new ModelOptimizer(model, options.learningRate(), options.l2());
        this.gradients = new Gradients(model.mlp);
        this.rnd = new SplittableRandom(options.seed());
        this.recent = new int[options.recentItems()];
    }

    public Options options() {
        return options;
    }

    /** Events observed. */
    public synchronized long events() {
        return events;
    }

    /** Steps taken. */
    public synchronized long steps() {
        return steps;
    }

    /**
     * Scores the behaviour ({@code itemId} of {@code categoryId}) after the user's history (dense ids of this
     * learner's catalog, oldest first; the last {@link Options#historyLength} are used), then learns from it.
     */
    public synchronized Outcome observe(int[] historyItems, int[] historyCategories, long itemId, long categoryId) {
        if (historyItems.length != historyCategories.length) {
            throw new IllegalArgumentException("history items (" + historyItems.length + ") and categories ("
                    + historyCategories.length + ") differ in length");
        }
        int known = catalog.items();
        int item = catalog.learn(itemId, categoryId, model::ensureRows);
        if (catalog.items() != known) {
            model.weightsChanged(); // after the id is published: a history cached with it unknown (row 0) is read again
        }
        int to = historyItems.length;
        int from = Math.max(0, to - options.historyLength());
        int scored = 1 + options.negatives();
        long[] ids = new long[scored];
        long[] cats = new long[scored];
        int[] dense = new int[scored];
        float[] labels = new float[scored];
        dense[0] = item;
        labels[0] = 1;
        for (int x = 1; x < scored; x++) {
            dense[x] = negative(item, historyItems, from, to);
        }
        SequenceModel.Forward[] forwards = new SequenceModel.Forward[scored];
        float[] logits = new float[scored];
        for (int x = 0; x < scored; x++) {
            ids[x] = catalog.itemId(dense[x]);
            cats[x] = catalog.categoryId(catalog.categoryOf(dense[x]));
            forwards[x] = model.forward(historyItems, historyCategories, from, to, dense[x], catalog.categoryOf(dense[x]));
            logits[x] = forwards[x].logit;
        }
        boolean step = options.stepFraction() >= 1 || rnd.nextDouble() < options.stepFraction();
        if (step) {
            for (int x = 0; x < scored; x++) {
                model.backward(forwards[x], SequenceModel.sigmoid(logits[x]) - labels[x], gradients);
            }
            optimizer.apply(gradients, scored);
            gradients.clear();
            steps++;
        }
        recent[recentNext] = item;
        recentNext = (recentNext + 1) % recent.length;
        recentSize = Math.min(recent.length, recentSize + 1);
        events++;
        return new Outcome(ids, cats, logits, labels, step);
    }

    /** A recent item other than the positive and the history's (any item when there is none: a cold start). */
    private int negative(int positive, int[] historyItems, int from, int to) {
        int items = catalog.items();
        int pick = 0;
        for (int attempt = 0; attempt < 20; attempt++) {
            pick = recentSize > 0 ? recent[rnd.nextInt(recentSize)] : 1 + rnd.nextInt(items);
            if (pick != positive && !contains(historyItems, from, to, pick)) {
                return pick;
            }
        }
        // a user whose history holds nearly every recent item: any other item will do
        for (int attempt = 0; attempt < 20 && items > 1; attempt++) {
            pick = 1 + rnd.nextInt(items);
            if (pick != positive) {
                return pick;
            }
        }
        return pick;
    }

    private static boolean contains(int[] a, int from, int to, int x) {
        for (int i = from; i < to; i++) {
            if (a[i] == x) {
                return true;
            }
        }
        return false;
    }
}
