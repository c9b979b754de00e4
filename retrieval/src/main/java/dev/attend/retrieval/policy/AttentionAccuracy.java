package dev.attend.retrieval.policy;

import java.util.HashSet;
import java.util.Set;

/** How close an attention answer is to full attention: the measures the benchmark and the demo report. */
public final class AttentionAccuracy {

    private AttentionAccuracy() {
    }

    /** {@code ||got - exact|| / ||exact||} (0 when both are zero, infinity when only {@code exact} is). */
    public static double relativeError(float[] got, float[] exact) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < got.length; i++) {
            double diff = got[i] - (double) exact[i];
            num += diff * diff;
            den += exact[i] * (double) exact[i];
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(num / den);
    }

    /**
     * The true softmax weight of the keys an answer used: {@code exp(lse_used - lse_all)}, from the
     * log-sum-exps of the answer and of full attention.
     */
    public static double massKept(double usedLogSumExp, double allLogSumExp) {
        return Math.exp(usedLogSumExp - allLogSumExp);
    }

    /** The share of {@code truth} (the true top-k positions) that {@code got} holds; 1 when {@code truth} is empty. */
    public static double recall(int[] got, int[] truth) {
        if (truth.length == 0) {
            return 1;
        }
        Set<Integer> want = new HashSet<>(truth.length * 2);
        for (int t : truth) {
            want.add(t);
        }
        int hits = 0;
        for (int g : got) {
            if (want.remove(g)) {
                hits++;
            }
        }
        return (double) hits / truth.length;
    }

    /**
     * The share of the true top keys {@code truth} an answer used: in its static set (positions below {@code sinks} or
     * from {@code staticFrom} on) or {@code retrieved}; 1 without any.
     */
    public static double keyRecall(int[] truth, int[] retrieved, int sinks, int staticFrom) {
        Set<Integer> used = new HashSet<>();
        for (int p : retrieved) {
            used.add(p);
        }
        int hits = 0;
        for (int t : truth) {
            hits += t < sinks || t >= staticFrom || used.contains(t) ? 1 : 0;
        }
        return truth.length == 0 ? 1 : (double) hits / truth.length;
    }
}
