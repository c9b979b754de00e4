package dev.attend.bench.workload;

import dev.attend.gpu.Precision;
import dev.attend.gpu.ScoreMatrix;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.VectorStore;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * {@link OodWorkloadGenerator#fit}: moments from the real keys and queries; the mixture clusterings so that a 64-means
 * clustering of 8,192 sampled vectors explains the same share of variance as on the real head (interpolated over a
 * grid, capped at 0.95); then one magnitude, by bisection, so that the mean top-100 softmax mass of the test queries at
 * the head's scale over as many keys as the head has matches the real head.
 */
final class OodFit {

    /** Test queries the magnitude fit averages the sparsity over. */
    static final int FIT_QUERIES = 256;
    static final long FIT_SEED = 0x5EEDL;
    /** Clusterings tried when fitting the k-means share; the generator never goes above the last. */
    static final double[] CLUSTERING_GRID = {0, 0.3, 0.5, 0.65, 0.8, 0.9, 0.95};

    private OodFit() {
    }

    /** Fits the parameters to a real workload (its keys, training queries and test queries); seconds per head. */
    static OodParameters fit(KvWorkload real) {
        int d = real.dim();
        int n = real.size();
        if (n < Measures.SHARE_SAMPLE || real.testQueries().length == 0) {
            throw new IllegalArgumentException("fitting needs at least " + Measures.SHARE_SAMPLE
                    + " keys and some test queries; " + real + " has fewer");
        }
        double[] keyMean = new double[d];
        double[][] keyCov = Measures.covariance(real.keys(), n, keyMean);
        Linalg.Eigen eigen = Linalg.symmetricEigen(keyCov);
        double total = Arrays.stream(eigen.values()).map(v -> Math.max(v, 0)).sum();
        double sdk = Math.sqrt(total);
        double[][] v = eigen.vectors();
        double[] keyVariance = new double[d];
        for (int i = 0; i < d; i++) {
            keyVariance[i] = Math.max(eigen.values()[i], 0) / total;
        }
        double[] testMean = new double[d];
        double[][] testCov = Measures.covariance(real.testQueries(), testMean);
        int nt = real.trainingQueries().size();
        double[] trainMean = testMean.clone();
        double[][] queryCov = testCov;
        if (nt > 0) {
            trainMean = new double[d];
            double[][] trainCov = Measures.covariance(real.trainingQueries(), nt, trainMean);
            int ns = real.testQueries().length;
            queryCov = new double[d][d];
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < d; j++) {
                    queryCov[i][j] = (nt * trainCov[i][j] + ns * testCov[i][j]) / (nt + ns);
                }
            }
        }
        double[] queryVariance = new double[d];
        for (int i = 0; i < d; i++) {
            double s = 0;
            for (int a = 0; a < d; a++) {
                for (int b = 0; b < d; b++) {
                    s += v[a][i] * queryCov[a][b] * v[b][i];
                }
            }
            queryVariance[i] = Math.max(s, 0) / total;
        }
        WorkloadStats target = OodWorkloadGenerator.describe(real, DescribeOptions.DEFAULT);
        OodParameters p = new OodParameters("fit(" + real.name() + ")", d, real.scale(), n, keyVariance,
                inBasis(v, keyMean, sdk), queryVariance, inBasis(v, trainMean, sdk), inBasis(v, testMean, sdk),
                OodWorkloadGenerator.DEFAULT_CLUSTERS, OodWorkloadGenerator.STRUCTURE_SEED, 0, 0, 1, target);
        double keyClustering = fitClustering(p, true, target.keyKmeansShare());
        double queryClustering = fitClustering(p, false, target.queryKmeansShare());
        p = p.withClustering(keyClustering, queryClustering);
        return p.withMagnitude(fitMagnitude(p, target.sparsity()));
    }

    /**
     * {@link OodWorkloadGenerator#atDimension}: component {@code i} of the new parameters is component {@code i d0 / dim}
     * of the old ({@code d0} their dimension), variances times {@code d0 / dim} and means times {@code sqrt(d0 / dim)},
     * then rescaled so that the key variances sum to 1: the spectrum's shape, the mean norms and the gaps stay (exactly
     * when {@code dim} is a multiple of {@code d0}). The scale becomes {@code scale sqrt(d0 / dim)} (1/sqrt(d) stays
     * 1/sqrt(d)); the magnitude is fitted again to the head's top-100 mass (more or fewer dimensions change the
     * spread of the logits), or without a target scaled by {@code sqrt(dim / d0)}, which keeps that spread for a
     * tiling.
     */
    static OodParameters atDimension(OodParameters p, int dim) {
        int d0 = p.dim();
        if (dim == d0) {
            return p;
        }
        if (dim < 1) {
            throw new IllegalArgumentException("dimension must be >= 1, got " + dim);
        }
        double[] keyVariance = spread(p.keyVariance(), dim, (double) d0 / dim);
        double total = Arrays.stream(keyVariance).sum();
        for (int i = 0; i < dim; i++) {
            keyVariance[i] /= total;
        }
        double meanFactor = Math.sqrt((double) d0 / dim / total);
        OodParameters q = new OodParameters(p.source() + " at d=" + dim, dim, (float) (p.scale() * Math.sqrt((double) d0 / dim)),
                p.referenceKeys(), keyVariance, spread(p.keyMean(), dim, meanFactor), spread(p.queryVariance(), dim, (double) d0 / dim / total),
                spread(p.trainingQueryMean(), dim, meanFactor), spread(p.testQueryMean(), dim, meanFactor), p.clusters(), p.structureSeed(),
                p.keyClustering(), p.queryClustering(), p.magnitude() * Math.sqrt((double) dim / d0), p.target());
        return p.target() == null || Double.isNaN(p.target().sparsity()) ? q : q.withMagnitude(fitMagnitude(q, p.target().sparsity()));
    }

    /** {@code v} spread over {@code dim} components (component {@code i} is {@code v[i v.length / dim]}), times {@code factor}. */
    private static double[] spread(double[] v, int dim, double factor) {
        double[] out = new double[dim];
        for (int i = 0; i < dim; i++) {
            out[i] = v[(int) ((long) i * v.length / dim)] * factor;
        }
        return out;
    }

    /** {@code V^T x / s}: coordinates along the key principal directions, in key standard deviations. */
    private static double[] inBasis(double[][] v, double[] x, double s) {
        int d = x.length;
        double[] out = new double[d];
        for (int i = 0; i < d; i++) {
            double t = 0;
            for (int j = 0; j < d; j++) {
                t += v[j][i] * x[j];
            }
            out[i] = t / s;
        }
        return out;
    }

    /** The clustering whose generated 64-means share matches {@code target} (interpolated over {@link #CLUSTERING_GRID}). */
    static double fitClustering(OodParameters p, boolean keys, double target) {
        if (Double.isNaN(target)) {
            return 0;
        }
        double[] shares = new double[CLUSTERING_GRID.length];
        for (int g = 0; g < CLUSTERING_GRID.length; g++) {
            double c = CLUSTERING_GRID[g];
            OodParameters q = keys ? p.withClustering(c, 0) : p.withClustering(0, c);
            MixtureSampler s = keys ? MixtureSampler.keys(q, null) : MixtureSampler.queries(q, null, q.trainingQueryMean());
            float[][] rows = s.rows(Measures.SHARE_SAMPLE, FIT_SEED, keys ? MixtureSampler.KEYS : MixtureSampler.TRAINING);
            shares[g] = Math.max(g == 0 ? 0 : shares[g - 1], Measures.kmeansShare(rows, FIT_SEED));
        }
        if (target <= shares[0]) {
            return 0;
        }
        for (int g = 1; g < shares.length; g++) {
            if (target <= shares[g]) {
                double t = shares[g] > shares[g - 1] ? (target - shares[g - 1]) / (shares[g] - shares[g - 1]) : 1;
                return CLUSTERING_GRID[g - 1] + t * (CLUSTERING_GRID[g] - CLUSTERING_GRID[g - 1]);
            }
        }
        return CLUSTERING_GRID[CLUSTERING_GRID.length - 1];
    }

    /**
     * The magnitude at which the mean top-100 mass of {@link #FIT_QUERIES} generated test queries over
     * {@code referenceKeys} generated keys is {@code target}. Logits scale with the square of the magnitude,
     * so the scores are computed once and the bisection only re-weighs them.
     */
    static double fitMagnitude(OodParameters p, double target) {
        OodParameters unit = p.withMagnitude(1);
        VectorStore keys = MixtureSampler.keys(unit, null).store(p.referenceKeys(), FIT_SEED, MixtureSampler.KEYS, Precision.FLOAT32);
        float[][] queries = MixtureSampler.queries(unit, null, unit.testQueryMean()).rows(FIT_QUERIES, FIT_SEED, MixtureSampler.TEST);
        int n = keys.size();
        int k = Math.min(100, n);
        float[][] scores = new float[queries.length][];
        float[][] tops = new float[queries.length][];
        try (SimdScorer scorer = new SimdScorer()) {
            int batch = Math.max(1, (int) Math.min(queries.length, 16_000_000L / n));
            for (int from = 0; from < queries.length; from += batch) {
                int to = Math.min(queries.length, from + batch);
                ScoreMatrix sm = scorer.scores(Arrays.copyOfRange(queries, from, to), keys, 0, n);
                for (int q = from; q < to; q++) {
                    scores[q] = Arrays.copyOfRange(sm.scores(), (q - from) * n, (q - from + 1) * n);
                    float[] sorted = scores[q].clone();
                    Arrays.sort(sorted);
                    tops[q] = Arrays.copyOfRange(sorted, n - k, n);
                }
            }
        }
        double lo = Math.log(1e-4);
        double hi = Math.log(1e4);
        for (int it = 0; it < 40 && hi - lo > 1e-4; it++) {
            double mid = (lo + hi) / 2;
            double beta = Math.exp(mid) * p.scale();
            double mass = IntStream.range(0, queries.length).parallel().mapToDouble(q -> {
                float[] s = scores[q];
                float[] t = tops[q];
                double max = t[t.length - 1];
                double all = 0;
                for (float x : s) {
                    all += Math.exp(beta * (x - max));
                }
                double top = 0;
                for (float x : t) {
                    top += Math.exp(beta * (x - max));
                }
                return top / all;
            }).average().orElse(0);
            if (mass < target) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return Math.sqrt(Math.exp((lo + hi) / 2));
    }
}
