package dev.attend.retrieval.policy;

import dev.attend.gpu.VectorChecks;
import dev.attend.gpu.VectorMath;
import java.util.Arrays;

/**
 * Chooses a head's policy from its prefill, without training: the prefill's queries attend causally (a query at
 * position t over the keys [0, t]), and the share of their softmax mass that falls outside the static set (the
 * sinks and the window before t) says whether the head needs the rest of its context. A head whose mean outside
 * mass stays under the threshold is {@link HeadPolicy.Streaming}. For the others, the share of the outside mass that
 * the k best outside keys hold says how concentrated it is: at least {@link #CONCENTRATED} and top-k retrieval
 * holds it ({@link HeadPolicy.Retrieval}); below, the rest is spread over many keys that only an estimate covers
 * ({@link HeadPolicy.RetrievalTail}: on the diffuse shared heads, bytelm L0H0 and minilm L3H3, it cut the error
 * of top-100 retrieval 23 and 8 times). A head with no queries to measure keeps its context (retrieval). At
 * most {@link #MAX_QUERIES} queries are measured, evenly spaced and always the same ones, so a prefill gives one answer.
 */
public final class PolicyChooser {

    /** Queries measured per head at most. */
    public static final int MAX_QUERIES = 64;
    /** The outside mass under which a head streams, by default (DuoAttention's streaming heads lose about this much). */
    public static final double DEFAULT_MAX_MASS_OUTSIDE = 0.01;
    /** The share of the outside mass in the top k outside keys from which retrieval goes without a tail estimate. */
    public static final double CONCENTRATED = 0.9;

    private PolicyChooser() {
    }

    /**
     * The measured statistics and the choice.
     *
     * @param massOutsideMean the mean over the measured queries of the softmax mass outside sinks + window
     * @param massOutsideMax  its largest value
     * @param topKShare       the mean share of the outside mass that the k best outside keys hold (1 with none outside)
     */
    public record Choice(HeadPolicy policy, double massOutsideMean, double massOutsideMax, double topKShare, int queriesMeasured) {
    }

    /**
     * The choice for a head whose prefill holds {@code keys}; {@code queries[i]} is the query at position
     * {@code positions[i]} (attending over keys [0, positions[i]]).
     */
    public static Choice choose(float[][] keys, float[][] queries, int[] positions, float scale, int sinks, int window, int k,
                                double maxMassOutside) {
        if (queries.length != positions.length) {
            throw new IllegalArgumentException(queries.length + " queries but " + positions.length + " positions");
        }
        if (!(maxMassOutside >= 0 && maxMassOutside <= 1)) {
            throw new IllegalArgumentException("the mass threshold must be in [0, 1], got " + maxMassOutside);
        }
        int dim = keys.length > 0 ? keys[0].length : 0;
        for (int i = 0; i < queries.length; i++) {
            VectorChecks.checkVector("query " + i, queries[i], dim);
            if (positions[i] < 0 || positions[i] >= keys.length) {
                throw new IllegalArgumentException("query " + i + " is at position " + positions[i] + ", outside the " + keys.length + " keys");
            }
        }
        int measured = Math.min(MAX_QUERIES, queries.length);
        double sum = 0;
        double max = 0;
        double shares = 0;
        double[] logits = new double[keys.length];
        double[] outsideWeights = new double[keys.length];
        for (int x = 0; x < measured; x++) {
            int i = (int) ((long) x * queries.length / measured);
            int t = positions[i];
            double top = Double.NEGATIVE_INFINITY;
            for (int j = 0; j <= t; j++) {
                logits[j] = scale * VectorMath.dot(queries[i], 0, keys[j], 0, dim);
                top = Math.max(top, logits[j]);
            }
            double all = 0;
            double outside = 0;
            int outsideCount = 0;
            int windowStart = t + 1 - window;
            for (int j = 0; j <= t; j++) {
                double w = Math.exp(logits[j] - top);
                all += w;
                if (j >= sinks && j < windowStart) {
                    outside += w;
                    outsideWeights[outsideCount++] = w;
                }
            }
            double share = outside / all;
            sum += share;
            max = Math.max(max, share);
            if (outsideCount <= k || outside == 0) {
                shares += 1;
            } else {
                Arrays.sort(outsideWeights, 0, outsideCount);
                double best = 0;
                for (int j = outsideCount - k; j < outsideCount; j++) {
                    best += outsideWeights[j];
                }
                shares += best / outside;
            }
        }
        double mean = measured == 0 ? 0 : sum / measured;
        double topKShare = measured == 0 ? 1 : shares / measured;
        // Without queries nothing shows that the head can drop its context: it keeps it.
        HeadPolicy policy = measured > 0 && mean < maxMassOutside ? new HeadPolicy.Streaming(sinks, window)
                : topKShare >= CONCENTRATED ? new HeadPolicy.Retrieval(sinks, window, k) : new HeadPolicy.RetrievalTail(sinks, window, k, 0);
        return new Choice(policy, mean, max, topKShare, measured);
    }
}
