package dev.attend.bench.workload;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;

/**
 * Parameters of {@link OodWorkloadGenerator}: the distributions of keys and queries of one attention head,
 * in the key principal basis and in units of the key standard deviation (the key variances sum to 1;
 * {@link #magnitude} scales everything at the end).
 *
 * <p>A key is {@code magnitude * R (keyMean + sqrt(keyVariance) * z)} and a query is
 * {@code magnitude * R (queryMean + sqrt(queryVariance) * z)} with {@code queryMean} the training or the test
 * query mean. {@code R} is a random rotation (from {@link #structureSeed}) and {@code z} is a unit-covariance mixture of
 * {@code clusters} Gaussians: {@code z = sqrt(c) * centre_j + sqrt(1 - c) * noise}, with the centres
 * whitened to unit covariance and {@code c} the {@link #keyClustering} or {@link #queryClustering} (the share
 * of variance between mixture components). Keys and queries have their own centres.
 *
 * <p>Fitted by {@link OodWorkloadGenerator#fit}: the means and variances are the moments of the real head
 * (query variances are the diagonal of the query covariance in the key basis, which keeps
 * {@code E[q^T Cov(k) q]}, the spread of the logits, exact); the clusterings are chosen so that a 64-means
 * clustering explains the same share of variance as on the real vectors; the magnitude so that the top-100
 * softmax mass at the head's scale over {@link #referenceKeys} keys matches the real head. The gap follows
 * from the means: {@link #gap()}.
 *
 * @param source            where the parameters came from (e.g. {@code fit(minilm-shakespeare/L2H0)})
 * @param dim               dimension
 * @param scale             softmax scale of the head
 * @param referenceKeys     keys the real sparsity was measured over (the head's prefill)
 * @param keyVariance       key variance along each principal direction, descending, summing to 1
 * @param keyMean           mean key in the key basis
 * @param queryVariance     query variance along each key principal direction
 * @param trainingQueryMean mean training (prefill) query
 * @param testQueryMean     mean test (decode) query
 * @param clusters          Gaussian mixture components (for keys and, separately, for queries)
 * @param structureSeed     seed of the mixture centres and of the rotation: part of the model (the magnitude is
 *                          fitted for these centres), while the seed of {@link OodWorkloadGenerator#generate}
 *                          draws the samples
 * @param keyClustering     share of key variance between mixture components, in [0, 1)
 * @param queryClustering   share of query variance between mixture components, in [0, 1)
 * @param magnitude         overall scale of keys and queries (the key standard deviation)
 * @param target            the real head's statistics the parameters were fitted to (null when not fitted)
 */
public record OodParameters(String source, int dim, float scale, int referenceKeys, double[] keyVariance, double[] keyMean,
                            double[] queryVariance, double[] trainingQueryMean, double[] testQueryMean, int clusters,
                            long structureSeed, double keyClustering, double queryClustering, double magnitude,
                            WorkloadStats target) {

    public OodParameters {
        Objects.requireNonNull(source, "source");
        if (dim < 1) {
            throw new IllegalArgumentException("dimension must be >= 1, got " + dim);
        }
        if (!(scale > 0) || !Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be positive, got " + scale);
        }
        if (referenceKeys < 1) {
            throw new IllegalArgumentException("reference keys must be >= 1, got " + referenceKeys);
        }
        keyVariance = vector("keyVariance", keyVariance, dim, true);
        keyMean = vector("keyMean", keyMean, dim, false);
        queryVariance = vector("queryVariance", queryVariance, dim, true);
        trainingQueryMean = vector("trainingQueryMean", trainingQueryMean, dim, false);
        testQueryMean = vector("testQueryMean", testQueryMean, dim, false);
        if (Arrays.stream(keyVariance).sum() <= 0) {
            throw new IllegalArgumentException("key variances sum to 0");
        }
        if (clusters < 1) {
            throw new IllegalArgumentException("clusters must be >= 1, got " + clusters);
        }
        if (!(keyClustering >= 0 && keyClustering < 1) || !(queryClustering >= 0 && queryClustering < 1)) {
            throw new IllegalArgumentException("clusterings must be in [0, 1), got " + keyClustering + " and " + queryClustering);
        }
        if (!(magnitude > 0) || !Double.isFinite(magnitude)) {
            throw new IllegalArgumentException("magnitude must be positive, got " + magnitude);
        }
    }

    private static double[] vector(String what, double[] v, int dim, boolean nonNegative) {
        Objects.requireNonNull(v, what);
        if (v.length != dim) {
            throw new IllegalArgumentException(what + " has " + v.length + " components, dimension is " + dim);
        }
        for (double x : v) {
            if (!Double.isFinite(x) || (nonNegative && x < 0)) {
                throw new IllegalArgumentException(what + " holds " + x);
            }
        }
        return v.clone();
    }

    /** Query-key mean gap of the test queries in key standard deviations (what the generated set shows, up to sampling). */
    public double gap() {
        return distance(testQueryMean, keyMean) / Math.sqrt(Arrays.stream(keyVariance).sum());
    }

    /** The same for the training queries. */
    public double trainingGap() {
        return distance(trainingQueryMean, keyMean) / Math.sqrt(Arrays.stream(keyVariance).sum());
    }

    private static double distance(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return Math.sqrt(s);
    }

    /** The same parameters with another magnitude (the sparsity knob: larger is sparser). */
    public OodParameters withMagnitude(double m) {
        return new OodParameters(source, dim, scale, referenceKeys, keyVariance, keyMean, queryVariance, trainingQueryMean,
                testQueryMean, clusters, structureSeed, keyClustering, queryClustering, m, target);
    }

    /** The same parameters with other mixture clusterings. */
    public OodParameters withClustering(double keys, double queries) {
        return new OodParameters(source, dim, scale, referenceKeys, keyVariance, keyMean, queryVariance, trainingQueryMean,
                testQueryMean, clusters, structureSeed, keys, queries, magnitude, target);
    }

    /** The same parameters with the test queries drawn like the training queries (no drift between them). */
    public OodParameters withoutDrift() {
        return new OodParameters(source, dim, scale, referenceKeys, keyVariance, keyMean, queryVariance, trainingQueryMean,
                trainingQueryMean, clusters, structureSeed, keyClustering, queryClustering, magnitude, target);
    }

    OodParameters withTarget(WorkloadStats t) {
        return new OodParameters(source, dim, scale, referenceKeys, keyVariance, keyMean, queryVariance, trainingQueryMean,
                testQueryMean, clusters, structureSeed, keyClustering, queryClustering, magnitude, t);
    }

    @Override
    public double[] keyVariance() {
        return keyVariance.clone();
    }

    @Override
    public double[] keyMean() {
        return keyMean.clone();
    }

    @Override
    public double[] queryVariance() {
        return queryVariance.clone();
    }

    @Override
    public double[] trainingQueryMean() {
        return trainingQueryMean.clone();
    }

    @Override
    public double[] testQueryMean() {
        return testQueryMean.clone();
    }

    /** Fraction of key variance in the top {@code r} principal directions. */
    public double keyVarianceShare(int r) {
        double top = 0;
        double all = 0;
        for (int i = 0; i < dim; i++) {
            all += keyVariance[i];
            top += i < r ? keyVariance[i] : 0;
        }
        return top / all;
    }

    /** The scalar parameters on one line. */
    public String summary() {
        double qTotal = Math.sqrt(Arrays.stream(queryVariance).sum() / Arrays.stream(keyVariance).sum());
        return String.format(Locale.ROOT,
                "%s: d=%d scale=%.4f gap=%.3f (training %.3f) key-sd, |key mean|=%.3f, query sd/key sd=%.3f,"
                        + " key variance in top %d dirs %.2f, clusters=%d clustering keys %.3f queries %.3f, magnitude %.4g,"
                        + " reference keys %d",
                source, dim, scale, gap(), trainingGap(), Math.sqrt(Linalg.dot(keyMean, keyMean) / Arrays.stream(keyVariance).sum()),
                qTotal, Math.max(1, dim / 8), keyVarianceShare(Math.max(1, dim / 8)), clusters, keyClustering, queryClustering,
                magnitude, referenceKeys);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OodParameters p && source.equals(p.source) && dim == p.dim && scale == p.scale
                && referenceKeys == p.referenceKeys && Arrays.equals(keyVariance, p.keyVariance)
                && Arrays.equals(keyMean, p.keyMean) && Arrays.equals(queryVariance, p.queryVariance)
                && Arrays.equals(trainingQueryMean, p.trainingQueryMean) && Arrays.equals(testQueryMean, p.testQueryMean)
                && clusters == p.clusters && structureSeed == p.structureSeed && keyClustering == p.keyClustering && queryClustering == p.queryClustering
                && magnitude == p.magnitude;
    }

    @Override
    public int hashCode() {
        return Objects.hash(source, dim, Arrays.hashCode(keyVariance), Arrays.hashCode(testQueryMean), magnitude);
    }

    @Override
    public String toString() {
        return "OodParameters[" + summary() + "]";
    }
}
