package dev.attend.bench.workload;

import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import dev.attend.gpu.ScoreMatrix;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.VectorStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Synthetic out-of-distribution (OOD) workloads at any scale (10^6, 10^7 keys), shaped like a real attention
 * head: keys and queries from different distributions, with the query-key mean gap, the attention sparsity
 * and the clustering of the head they were fitted to.
 *
 * <p><b>Model</b> (see {@link OodParameters}): keys and queries are Gaussian mixtures in the key principal
 * basis with the head's per-direction key variances, its mean key, its mean training and mean test query,
 * and its query variances along the key directions; a random rotation hides the basis. The queries are
 * therefore shifted from the keys by the head's mean offset (largely along directions where keys vary
 * little) and anisotropic the way the head's queries are.
 *
 * <p><b>Fitting</b> ({@link #fit}): moments from the real keys and queries; the mixture clusterings so that a
 * 64-means clustering of 8,192 sampled vectors explains the same share of variance as on the real head
 * (interpolated over a grid, capped at 0.95); then one magnitude, by bisection, so that the mean top-100
 * softmax mass of the test queries at the head's scale over as many keys as the head has matches the real
 * head. The gap needs no search: it is a function of the means and variances ({@link OodParameters#gap()}).
 *
 * <p><b>Generation</b> ({@link #generate}) is reproducible from the seed whatever the number of threads (the
 * mixture centres and the rotation come from the parameters' {@link OodParameters#structureSeed}, so the
 * fitted statistics hold for every sample seed):
 * rows are made in chunks of {@link VectorStore#CHUNK_ROWS}, each from its own {@link SplittableRandom}
 * seeded by (seed, stream, chunk), chunks of a wave in parallel, appended in order straight into a
 * {@link VectorStore} (float32 or float16), so memory is the store plus a few chunks.
 *
 * <p><b>Defaults</b> ({@link #defaults()}, {@link #defaults(String)}) were fitted once with {@link #main} from
 * the shared heads in {@code ../shared/data/kv} ({@code minilm-shakespeare} L2H0, L3H3, L4H6 and
 * {@code bytelm-pysrc} L0H0, L5H4; see {@link DefaultOodParameters}) and are embedded, so nothing here needs
 * {@code ../shared}.
 */
public final class OodWorkloadGenerator {

    /** Mixture components of keys (and, separately, of queries). */
    public static final int DEFAULT_CLUSTERS = 256;
    /** The head {@link #defaults()} returns: an LLM head with RoPE whose decode queries are far from its keys for an index. */
    public static final String DEFAULT_HEAD = "bytelm-pysrc/L5H4";
    /** Test queries the magnitude fit averages the sparsity over. */
    static final int FIT_QUERIES = 256;
    static final long FIT_SEED = 0x5EEDL;
    /** Structure seed (mixture centres, rotation) of fitted parameters. */
    public static final long STRUCTURE_SEED = 0xA77E2DL;
    /** Clusterings tried when fitting the k-means share; the generator never goes above the last. */
    static final double[] CLUSTERING_GRID = {0, 0.3, 0.5, 0.65, 0.8, 0.9, 0.95};

    private static final int STREAM_KEYS = 1;
    private static final int STREAM_TRAINING = 2;
    private static final int STREAM_TEST = 3;
    private static final int STREAM_HELD_OUT = 4;
    private static final int STREAM_KEY_CENTRES = 5;
    private static final int STREAM_QUERY_CENTRES = 6;
    private static final int STREAM_ROTATION = 7;

    private OodWorkloadGenerator() {
    }

    // ---------------------------------------------------------------- defaults

    /** Parameters fitted to {@value #DEFAULT_HEAD} (embedded; see {@link DefaultOodParameters}). */
    public static OodParameters defaults() {
        return defaults(DEFAULT_HEAD);
    }

    /** Embedded parameters of a shared head: {@code bytelm-pysrc/L5H4} or just {@code L5H4}. */
    public static OodParameters defaults(String head) {
        return DefaultOodParameters.get(head);
    }

    /** Heads with embedded parameters, as {@code set/head}. */
    public static List<String> defaultHeads() {
        return DefaultOodParameters.heads();
    }

    // ---------------------------------------------------------------- generation

    /** A float32 workload: {@code n} keys, training and test queries, and as many held-out keys as test queries. */
    public static KvWorkload generate(OodParameters p, int n, int trainingQueries, int testQueries, long seed) {
        return generate(p, n, trainingQueries, testQueries, seed, Precision.FLOAT32);
    }

    /**
     * {@code n} keys and {@code trainingQueries} queries in stores of {@code precision}, {@code testQueries} test
     * queries and as many held-out keys (the in-distribution check) as arrays. The same arguments give the
     * same vectors, bit for bit, on any number of threads.
     */
    public static KvWorkload generate(OodParameters p, int n, int trainingQueries, int testQueries, long seed,
                                      Precision precision) {
        if (n < 1 || trainingQueries < 0 || testQueries < 0) {
            throw new IllegalArgumentException("need n >= 1 and non-negative query counts, got n=" + n + ", training="
                    + trainingQueries + ", test=" + testQueries);
        }
        double[][] rotation = Linalg.randomRotation(p.dim(), new SplittableRandom(mix(p.structureSeed(), STREAM_ROTATION, 0)));
        Sampler keys = Sampler.keys(p, rotation);
        Sampler training = Sampler.queries(p, rotation, p.trainingQueryMean());
        Sampler test = Sampler.queries(p, rotation, p.testQueryMean());
        VectorStore keyStore = keys.store(n, seed, STREAM_KEYS, precision);
        VectorStore trainingStore = training.store(trainingQueries, seed, STREAM_TRAINING, precision);
        float[][] testRows = test.rows(testQueries, seed, STREAM_TEST);
        float[][] heldOut = keys.rows(testQueries, seed, STREAM_HELD_OUT);
        String name = String.format(Locale.ROOT, "synthetic(%s, n=%d, seed=%d)", p.source(), n, seed);
        return new KvWorkload(name, keyStore, trainingStore, testRows, heldOut, p.scale());
    }

    /** SplitMix64 of (seed, stream, chunk): independent, reproducible random streams per chunk. */
    static long mix(long seed, int stream, long chunk) {
        long z = seed * 0x9E3779B97F4A7C15L + stream * 0xBF58476D1CE4E5B9L + chunk * 0x94D049BB133111EBL + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** One distribution: {@code magnitude * R (mean + sd * (a * centre_j + b * noise))}. */
    static final class Sampler {
        final int dim;
        final double[] mean;
        final double[] sd;
        final double[] centres; // clusters x dim, unit covariance
        final int clusters;
        final double a;
        final double b;
        final double[][] rotation; // null: none
        final double magnitude;

        Sampler(double[] mean, double[] variance, double[] centres, int clusters, double clustering, double[][] rotation,
                double magnitude) {
            this.dim = mean.length;
            this.mean = mean;
            this.sd = Arrays.stream(variance).map(Math::sqrt).toArray();
            this.centres = centres;
            this.clusters = clusters;
            this.a = Math.sqrt(clustering);
            this.b = Math.sqrt(1 - clustering);
            this.rotation = rotation;
            this.magnitude = magnitude;
        }

        static Sampler keys(OodParameters p, double[][] rotation) {
            return new Sampler(p.keyMean(), p.keyVariance(), centres(p.clusters(), p.dim(), mix(p.structureSeed(), STREAM_KEY_CENTRES, 0)),
                    p.clusters(), p.keyClustering(), rotation, p.magnitude());
        }

        static Sampler queries(OodParameters p, double[][] rotation, double[] mean) {
            return new Sampler(mean, p.queryVariance(), centres(p.clusters(), p.dim(), mix(p.structureSeed(), STREAM_QUERY_CENTRES, 0)),
                    p.clusters(), p.queryClustering(), rotation, p.magnitude());
        }

        /** Fills rows [0, count) of {@code out} (row-major). */
        void fill(SplittableRandom random, float[] out, int count) {
            double[] x = new double[dim];
            for (int r = 0; r < count; r++) {
                int c = clusters == 1 ? 0 : random.nextInt(clusters);
                int cb = c * dim;
                for (int i = 0; i < dim; i++) {
                    double z = a * centres[cb + i] + b * random.nextGaussian();
                    x[i] = mean[i] + sd[i] * z;
                }
                int o = r * dim;
                if (rotation == null) {
                    for (int i = 0; i < dim; i++) {
                        out[o + i] = (float) (magnitude * x[i]);
                    }
                } else {
                    for (int i = 0; i < dim; i++) {
                        double[] ri = rotation[i];
                        double s = 0;
                        for (int j = 0; j < dim; j++) {
                            s += ri[j] * x[j];
                        }
                        out[o + i] = (float) (magnitude * s);
                    }
                }
            }
        }

        private float[] chunk(int index, int count, long seed, int stream) {
            float[] buf = new float[count * dim];
            fill(new SplittableRandom(mix(seed, stream, index)), buf, count);
            return buf;
        }

        /** {@code rows} rows into a new store: chunks made in parallel waves, appended in order. */
        VectorStore store(int rows, long seed, int stream, Precision precision) {
            VectorStore store = new VectorStore(dim, precision);
            int chunkRows = VectorStore.CHUNK_ROWS;
            int chunks = (rows + chunkRows - 1) / chunkRows;
            int wave = Math.max(2, 2 * Runtime.getRuntime().availableProcessors());
            for (int w = 0; w < chunks; w += wave) {
                int first = w;
                float[][] made = IntStream.range(first, Math.min(chunks, first + wave)).parallel()
                        .mapToObj(c -> chunk(c, Math.min(chunkRows, rows - c * chunkRows), seed, stream))
                        .toArray(float[][]::new);
                for (float[] buf : made) {
                    store.appendRows(buf, 0, buf.length / dim);
                }
            }
            return store;
        }

        float[][] rows(int rows, long seed, int stream) {
            VectorStore s = store(rows, seed, stream, Precision.FLOAT32);
            float[][] out = new float[rows][];
            for (int i = 0; i < rows; i++) {
                out[i] = s.row(i);
            }
            return out;
        }
    }

    /** {@code clusters} Gaussian centres with mean 0 and (when clusters > dim) exactly unit covariance. */
    static double[] centres(int clusters, int dim, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[][] c = new double[clusters][dim];
        for (double[] row : c) {
            for (int j = 0; j < dim; j++) {
                row[j] = random.nextGaussian();
            }
        }
        if (clusters == 1) {
            return new double[dim]; // one component: its centre is the mean
        }
        double[] mean = new double[dim];
        for (double[] row : c) {
            for (int j = 0; j < dim; j++) {
                mean[j] += row[j] / clusters;
            }
        }
        double[][] cov = new double[dim][dim];
        for (double[] row : c) {
            for (int j = 0; j < dim; j++) {
                row[j] -= mean[j];
            }
            for (int j = 0; j < dim; j++) {
                for (int l = 0; l < dim; l++) {
                    cov[j][l] += row[j] * row[l] / clusters;
                }
            }
        }
        double[][] chol = clusters > dim ? Linalg.cholesky(cov) : null;
        double[] out = new double[clusters * dim];
        for (int k = 0; k < clusters; k++) {
            double[] row = c[k];
            if (chol != null) { // solve L y = row: y has unit covariance over the centres
                for (int i = 0; i < dim; i++) {
                    double s = row[i];
                    for (int j = 0; j < i; j++) {
                        s -= chol[i][j] * out[k * dim + j];
                    }
                    out[k * dim + i] = s / chol[i][i];
                }
            } else { // too few centres to whiten: unit variance per component
                for (int i = 0; i < dim; i++) {
                    out[k * dim + i] = row[i] / Math.sqrt(Math.max(cov[i][i], 1e-12));
                }
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- fitting

    /** Fits the parameters to a real head split as a decode workload (1,024 test queries). */
    public static OodParameters fit(KvHead head) {
        return fit(KvWorkload.fromHead(head.name(), head, KvWorkload.DECODE_STEPS));
    }

    /** Fits the parameters to a real workload (its keys, training queries and test queries); seconds per head. */
    public static OodParameters fit(KvWorkload real) {
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
        WorkloadStats target = describe(real, DescribeOptions.DEFAULT);
        OodParameters p = new OodParameters("fit(" + real.name() + ")", d, real.scale(), n, keyVariance,
                inBasis(v, keyMean, sdk), queryVariance, inBasis(v, trainMean, sdk), inBasis(v, testMean, sdk),
                DEFAULT_CLUSTERS, STRUCTURE_SEED, 0, 0, 1, target);
        double keyClustering = fitClustering(p, true, target.keyKmeansShare());
        double queryClustering = fitClustering(p, false, target.queryKmeansShare());
        p = p.withClustering(keyClustering, queryClustering);
        return p.withMagnitude(fitMagnitude(p, target.sparsity()));
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
            Sampler s = keys ? Sampler.keys(q, null) : Sampler.queries(q, null, q.trainingQueryMean());
            float[][] rows = s.rows(Measures.SHARE_SAMPLE, FIT_SEED, keys ? STREAM_KEYS : STREAM_TRAINING);
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
        VectorStore keys = Sampler.keys(unit, null).store(p.referenceKeys(), FIT_SEED, STREAM_KEYS, Precision.FLOAT32);
        float[][] queries = Sampler.queries(unit, null, unit.testQueryMean()).rows(FIT_QUERIES, FIT_SEED, STREAM_TEST);
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

    // ---------------------------------------------------------------- description

    /** Gap, sparsity over all keys and k-means shares of a workload (no IVF). */
    public static WorkloadStats describe(KvWorkload w) {
        return describe(w, DescribeOptions.DEFAULT);
    }

    /** The statistics of {@link WorkloadStats}, measured as {@code options} say. */
    public static WorkloadStats describe(KvWorkload w, DescribeOptions options) {
        int n = w.size();
        double[] keyVar = new double[1];
        double[] keyMean = Measures.meanAndTotalVariance(w.keys(), n, keyVar);
        double sdk = Math.sqrt(keyVar[0]);
        double gap = distance(Measures.mean(w.testQueries()), keyMean) / sdk;
        double trainingGap = Double.NaN;
        int nt = w.trainingQueries().size();
        if (nt > 0) {
            double[] tv = new double[1];
            trainingGap = distance(Measures.meanAndTotalVariance(w.trainingQueries(), nt, tv), keyMean) / sdk;
        }
        float[][] queries = Measures.sample(w.testQueries(), options.maxQueries());
        int sparsityKeys = options.sparsityKeys() == 0 ? n : Math.min(n, options.sparsityKeys());
        double sparsity = Double.NaN;
        double sparsityMedian = Double.NaN;
        double ivf = Double.NaN;
        double ivfId = Double.NaN;
        try (SimdScorer scorer = new SimdScorer()) {
            if (queries.length > 0 && n > 0) {
                double[] mass = Measures.topMass(w.keys(), sparsityKeys, queries, w.scale(), 100, scorer);
                sparsity = Measures.mean(mass);
                sparsityMedian = Measures.median(mass);
            }
            if (options.ivf() && n > options.ivfClusters()) {
                Measures.Ivf index = Measures.Ivf.build(w.keys(), options.ivfClusters(), options.seed());
                ivf = index.medianScan(w.keys(), queries, 100, 95, scorer);
                ivfId = index.medianScan(w.keys(), Measures.sample(w.heldOutKeys(), options.maxQueries()), 100, 95, scorer);
            }
        }
        double keyShare = Measures.kmeansShare(Measures.sample(w.keys(), Measures.SHARE_SAMPLE), options.seed());
        float[][] querySample = nt > 0 ? Measures.sample(w.trainingQueries(), Measures.SHARE_SAMPLE)
                : Measures.sample(w.testQueries(), Measures.SHARE_SAMPLE);
        double queryShare = Measures.kmeansShare(querySample, options.seed());
        return new WorkloadStats(w.name(), n, w.dim(), queries.length, gap, trainingGap, sparsity, sparsityMedian, sparsityKeys,
                keyShare, queryShare, ivf, ivfId);
    }

    private static double distance(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (a[i] - b[i]) * (a[i] - b[i]);
        }
        return Math.sqrt(s);
    }

    // ---------------------------------------------------------------- command line

    /**
     * {@code fit KV_DIR...}: fits every head of each directory and prints, per head, the parameters, the real
     * statistics and those of a generated workload of the same size, then the Java source of
     * {@link DefaultOodParameters} (how the embedded defaults were made). {@code --ivf} adds the IVF scans.
     */
    public static void main(String[] args) throws IOException {
        boolean ivf = Arrays.asList(args).contains("--ivf");
        List<Path> dirs = Arrays.stream(args).filter(a -> !a.startsWith("--") && !a.equals("fit")).map(Path::of).toList();
        if (dirs.isEmpty()) {
            System.err.println("usage: OodWorkloadGenerator fit [--ivf] KV_DIR...   (e.g. ../shared/data/kv/minilm-shakespeare)");
            System.exit(2);
        }
        List<OodParameters> fitted = new ArrayList<>();
        DescribeOptions options = DescribeOptions.DEFAULT.withIvf(ivf);
        for (Path dir : dirs) {
            for (String head : KvHead.heads(dir)) {
                long t0 = System.nanoTime();
                KvWorkload real = KvWorkload.fromKvDir(dir, head);
                OodParameters p = fit(real);
                double fitS = (System.nanoTime() - t0) / 1e9;
                fitted.add(p);
                WorkloadStats realStats = ivf ? describe(real, options) : p.target();
                KvWorkload synthetic = generate(p, real.size(), real.trainingQueries().size(), real.testQueries().length, 1);
                WorkloadStats synStats = describe(synthetic, options);
                System.out.printf(Locale.ROOT, "%s (fitted in %.1f s)%n  params    %s%n  real      %s%n  synthetic %s%n",
                        real.name(), fitS, p.summary(), realStats.summary(), synStats.summary());
            }
        }
        System.out.println(DefaultOodParameters.javaSource(fitted));
    }
}
