package dev.attend.bench.workload;

import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.VectorStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

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
 * <p><b>Fitting</b> ({@link #fit}, done by {@link OodFit}): moments from the real keys and queries; the mixture
 * clusterings so that a 64-means clustering of 8,192 sampled vectors explains the same share of variance as on the
 * real head (interpolated over a grid, capped at 0.95); then one magnitude, by bisection, so that the mean top-100
 * softmax mass of the test queries at the head's scale over as many keys as the head has matches the real
 * head. The gap needs no search: it is a function of the means and variances ({@link OodParameters#gap()}).
 *
 * <p><b>Generation</b> ({@link #generate}, rows by {@link MixtureSampler}) is reproducible from the seed whatever
 * the number of threads (the mixture centres and the rotation come from the parameters'
 * {@link OodParameters#structureSeed}, so the fitted statistics hold for every sample seed):
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
    /** Structure seed (mixture centres, rotation) of fitted parameters. */
    public static final long STRUCTURE_SEED = 0xA77E2DL;

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

    /**
     * The same head at another dimension (the shared heads have d = 32 and 64; a Llama-shaped session has 128): each
     * principal direction's variance and mean spread over {@code dim / d} directions, the gaps and the shape of the
     * spectrum kept, the scale {@code 1/sqrt(dim)} for a head fitted at {@code 1/sqrt(d)}, and the magnitude fitted
     * again so that the top-100 softmax mass over {@link OodParameters#referenceKeys} keys is the real head's (seconds).
     * {@code p} itself at its own dimension.
     */
    public static OodParameters atDimension(OodParameters p, int dim) {
        return OodFit.atDimension(p, dim);
    }

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
        double[][] rotation = Linalg.randomRotation(p.dim(),
                new SplittableRandom(MixtureSampler.mix(p.structureSeed(), MixtureSampler.ROTATION, 0)));
        MixtureSampler keys = MixtureSampler.keys(p, rotation);
        MixtureSampler training = MixtureSampler.queries(p, rotation, p.trainingQueryMean());
        MixtureSampler test = MixtureSampler.queries(p, rotation, p.testQueryMean());
        VectorStore keyStore = keys.store(n, seed, MixtureSampler.KEYS, precision);
        VectorStore trainingStore = training.store(trainingQueries, seed, MixtureSampler.TRAINING, precision);
        float[][] testRows = test.rows(testQueries, seed, MixtureSampler.TEST);
        float[][] heldOut = keys.rows(testQueries, seed, MixtureSampler.HELD_OUT);
        String name = String.format(Locale.ROOT, "synthetic(%s, n=%d, seed=%d)", p.source(), n, seed);
        return new KvWorkload(name, keyStore, trainingStore, testRows, heldOut, p.scale());
    }

    // ---------------------------------------------------------------- fitting

    /** Fits the parameters to a real head split as a decode workload (1,024 test queries). */
    public static OodParameters fit(KvHead head) {
        return OodFit.fit(KvWorkload.fromHead(head.name(), head, KvWorkload.DECODE_STEPS));
    }

    /** Fits the parameters to a real workload (its keys, training queries and test queries); seconds per head. */
    public static OodParameters fit(KvWorkload real) {
        return OodFit.fit(real);
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
