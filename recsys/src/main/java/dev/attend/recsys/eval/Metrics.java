package dev.attend.recsys.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Ranking and calibration measures of click predictions. */
public final class Metrics {

    private Metrics() {
    }

    /**
     * Area under the ROC curve: the probability that a random positive scores above a random negative, ties
     * counting one half (the rank-sum form, O(n log n)). NaN when either class is absent.
     */
    public static double auc(float[] scores, float[] labels) {
        int n = scores.length;
        if (labels.length != n) {
            throw new IllegalArgumentException(n + " scores but " + labels.length + " labels");
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(scores[a], scores[b]));
        double positiveRanks = 0;
        long positives = 0;
        for (int i = 0; i < n; ) {
            int j = i;
            while (j < n && scores[order[j]] == scores[order[i]]) {
                j++;
            }
            double rank = (i + 1 + j) / 2.0; // the average 1-based rank of the tied run [i, j)
            for (int t = i; t < j; t++) {
                if (labels[order[t]] > 0.5f) {
                    positiveRanks += rank;
                    positives++;
                }
            }
            i = j;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) {
            return Double.NaN;
        }
        return (positiveRanks - positives * (positives + 1) / 2.0) / ((double) positives * negatives);
    }

    /**
     * Group AUC: the AUC within each group (a user, or a target category as DARE's code groups), averaged with
     * the groups' sample counts as weights; groups with one class only are left out (their AUC is undefined).
     * NaN when no group has both classes.
     */
    public static double gauc(float[] scores, float[] labels, long[] groups) {
        Map<Long, List<Integer>> byGroup = new HashMap<>();
        for (int i = 0; i < scores.length; i++) {
            byGroup.computeIfAbsent(groups[i], g -> new ArrayList<>()).add(i);
        }
        double weighted = 0;
        long weight = 0;
        for (List<Integer> members : byGroup.values()) {
            float[] s = new float[members.size()];
            float[] l = new float[members.size()];
            for (int k = 0; k < s.length; k++) {
                s[k] = scores[members.get(k)];
                l[k] = labels[members.get(k)];
            }
            double a = auc(s, l);
            if (!Double.isNaN(a)) {
                weighted += a * s.length;
                weight += s.length;
            }
        }
        return weight == 0 ? Double.NaN : weighted / weight;
    }

    /** Mean binary cross-entropy of probabilities against labels, probabilities clipped to [1e-7, 1 - 1e-7]. */
    public static double logloss(float[] probabilities, float[] labels) {
        double sum = 0;
        for (int i = 0; i < probabilities.length; i++) {
            double p = Math.min(1 - 1e-7, Math.max(1e-7, probabilities[i]));
            sum -= labels[i] > 0.5f ? Math.log(p) : Math.log(1 - p);
        }
        return sum / probabilities.length;
    }
}
