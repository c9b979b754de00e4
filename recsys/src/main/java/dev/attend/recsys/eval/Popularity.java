package dev.attend.recsys.eval;

import dev.attend.recsys.data.Sample;
import dev.attend.recsys.data.UserSequences;
import java.util.List;

/**
 * The popularity baseline: a target's score is how often its item occurs among the training targets' positives
 * and histories (the behaviours a model could have learnt from), the same for every user. Items never seen score 0.
 * Its evaluation leaves logloss out (NaN): the score ranks, it is not a probability.
 */
public final class Popularity {

    private final long[] counts;
    private final long max;

    private Popularity(long[] counts) {
        this.counts = counts;
        long m = 1;
        for (long c : counts) {
            m = Math.max(m, c);
        }
        this.max = m;
    }

    /** Counts the items of the training samples' positives and of the behaviours before them. */
    public static Popularity fit(UserSequences data, List<Sample> train) {
        long[] counts = new long[data.items() + 1];
        int[] seenUpTo = new int[data.users()];
        for (Sample s : train) {
            if (s.label() > 0.5f) {
                counts[s.item()]++;
                int[] items = data.itemsOf(s.user());
                for (int j = seenUpTo[s.user()]; j < s.historyTo(); j++) { // each behaviour once per user
                    counts[items[j]]++;
                }
                seenUpTo[s.user()] = Math.max(seenUpTo[s.user()], s.historyTo());
            }
        }
        return new Popularity(counts);
    }

    /** A score in [0, 1]: the item's count over the largest count. */
    public float score(int item) {
        return item > 0 && item < counts.length ? (float) counts[item] / max : 0;
    }

    public Evaluation evaluate(List<Sample> samples) {
        float[] p = new float[samples.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = score(samples.get(i).item());
        }
        Evaluation e = Evaluation.of(p, samples);
        // A popularity score ranks but is no probability: its logloss would say nothing.
        return new Evaluation(e.auc(), e.gaucByUser(), e.gaucByCategory(), Double.NaN, e.samples());
    }
}
