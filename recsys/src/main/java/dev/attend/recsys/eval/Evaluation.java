package dev.attend.recsys.eval;

import dev.attend.recsys.data.Sample;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.SequenceModel;
import java.util.List;
import java.util.stream.IntStream;

/**
 * A model's measures on a set of samples: AUC, GAUC grouped by user and by target category (DARE's code groups
 * by category), and logloss.
 */
public record Evaluation(double auc, double gaucByUser, double gaucByCategory, double logloss, int samples) {

    public static Evaluation of(SequenceModel model, UserSequences data, List<Sample> samples) {
        float[] p = new float[samples.size()];
        IntStream.range(0, p.length).parallel().forEach(i -> {
            Sample s = samples.get(i);
            p[i] = model.probability(data.itemsOf(s.user()), data.categoriesOf(s.user()), s.historyFrom(), s.historyTo(), s.item(),
                    s.category());
        });
        return of(p, samples);
    }

    /** The measures of {@code scores[i]} predicted for {@code samples.get(i)} (also for baselines that are not a model). */
    public static Evaluation of(float[] scores, List<Sample> samples) {
        int n = samples.size();
        float[] labels = new float[n];
        long[] users = new long[n];
        long[] categories = new long[n];
        for (int i = 0; i < n; i++) {
            Sample s = samples.get(i);
            labels[i] = s.label();
            users[i] = s.user();
            categories[i] = s.category();
        }
        return of(scores, labels, users, categories);
    }

    /** The measures of given predictions, labels and groups. */
    public static Evaluation of(float[] probabilities, float[] labels, long[] users, long[] categories) {
        return new Evaluation(Metrics.auc(probabilities, labels), Metrics.gauc(probabilities, labels, users),
                Metrics.gauc(probabilities, labels, categories), Metrics.logloss(probabilities, labels), probabilities.length);
    }
}
