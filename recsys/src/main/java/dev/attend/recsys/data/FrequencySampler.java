package dev.attend.recsys.data;

import java.util.SplittableRandom;

/**
 * Draws dense item ids with probability proportional to their frequency, in O(1) per draw (Walker's alias
 * method over the counts; the padding id 0 has count 0 and is never drawn).
 */
final class FrequencySampler {

    private final double[] probability;
    private final int[] alias;

    FrequencySampler(long[] counts) {
        int n = counts.length;
        double total = 0;
        for (long c : counts) {
            total += c;
        }
        if (!(total > 0)) {
            throw new IllegalArgumentException("no item has a behaviour to sample from");
        }
        probability = new double[n];
        alias = new int[n];
        double[] scaled = new double[n];
        int[] small = new int[n];
        int[] large = new int[n];
        int ns = 0;
        int nl = 0;
        for (int i = 0; i < n; i++) {
            scaled[i] = counts[i] * n / total;
            if (scaled[i] < 1) {
                small[ns++] = i;
            } else {
                large[nl++] = i;
            }
        }
        while (ns > 0 && nl > 0) {
            int s = small[--ns];
            int l = large[--nl];
            probability[s] = scaled[s];
            alias[s] = l;
            scaled[l] = scaled[l] + scaled[s] - 1;
            if (scaled[l] < 1) {
                small[ns++] = l;
            } else {
                large[nl++] = l;
            }
        }
        while (nl > 0) {
            probability[large[--nl]] = 1;
        }
        while (ns > 0) {
            probability[small[--ns]] = 1; // rounding leftovers
        }
    }

    int next(SplittableRandom rnd) {
        int i = rnd.nextInt(probability.length);
        return rnd.nextDouble() < probability[i] ? i : alias[i];
    }
}
