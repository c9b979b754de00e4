package dev.attend.bench.workload;

import dev.attend.gpu.Precision;
import dev.attend.gpu.ScoreMatrix;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import dev.attend.index.cluster.KMeans;
import dev.attend.index.cluster.NearestCentroid;
import java.util.Arrays;
import java.util.stream.IntStream;

/** The measurements behind {@link WorkloadStats}: moments, top-k softmax mass, k-means shares, IVF scans. */
final class Measures {

    /** Rows per block of the parallel passes over a store. */
    static final int BLOCK = VectorStore.CHUNK_ROWS;
    /** Rows and clusters of the k-means share statistic. */
    static final int SHARE_SAMPLE = 8192;
    static final int SHARE_CLUSTERS = 64;
    static final int SHARE_ITERATIONS = 10;
    /** Keys sampled to train the IVF centroids, and Lloyd iterations. */
    static final int IVF_SAMPLE = 65536;
    static final int IVF_ITERATIONS = 8;

    private Measures() {
    }

    private static int blocks(int rows) {
        return (rows + BLOCK - 1) / BLOCK;
    }

    /** Mean of rows [0, rows) of {@code store} (double), and the total variance {@code sum_j Var(x_j)}. */
    static double[] meanAndTotalVariance(VectorStore store, int rows, double[] totalVarianceOut) {
        int d = store.dim();
        double[][] partial = IntStream.range(0, blocks(rows)).parallel().mapToObj(b -> {
            double[] acc = new double[d + 1];
            float[] row = new float[d];
            for (int i = b * BLOCK, end = Math.min(rows, (b + 1) * BLOCK); i < end; i++) {
                store.readRow(i, row);
                for (int j = 0; j < d; j++) {
                    acc[j] += row[j];
                    acc[d] += (double) row[j] * row[j];
                }
            }
            return acc;
        }).toArray(double[][]::new);
        double[] sum = new double[d + 1];
        for (double[] p : partial) {
            for (int j = 0; j <= d; j++) {
                sum[j] += p[j];
            }
        }
        double[] mean = new double[d];
        double meanSq = 0;
        for (int j = 0; j < d; j++) {
            mean[j] = sum[j] / Math.max(rows, 1);
            meanSq += mean[j] * mean[j];
        }
        totalVarianceOut[0] = Math.max(0, sum[d] / Math.max(rows, 1) - meanSq);
        return mean;
    }

    static double[] mean(float[][] rows) {
        int d = rows.length == 0 ? 0 : rows[0].length;
        double[] mean = new double[d];
        for (float[] r : rows) {
            for (int j = 0; j < d; j++) {
                mean[j] += r[j];
            }
        }
        for (int j = 0; j < d; j++) {
            mean[j] /= Math.max(rows.length, 1);
        }
        return mean;
    }

    /** Covariance (divided by the row count) of rows [0, rows) of {@code store}; the mean goes to {@code meanOut}. */
    static double[][] covariance(VectorStore store, int rows, double[] meanOut) {
        int d = store.dim();
        double[] totalVariance = new double[1];
        double[] mean = meanAndTotalVariance(store, rows, totalVariance);
        System.arraycopy(mean, 0, meanOut, 0, d);
        double[][] partial = IntStream.range(0, blocks(rows)).parallel().mapToObj(b -> {
            double[] acc = new double[d * d];
            float[] row = new float[d];
            double[] c = new double[d];
            for (int i = b * BLOCK, end = Math.min(rows, (b + 1) * BLOCK); i < end; i++) {
                store.readRow(i, row);
                for (int j = 0; j < d; j++) {
                    c[j] = row[j] - mean[j];
                }
                for (int j = 0; j < d; j++) {
                    double cj = c[j];
                    int base = j * d;
                    for (int l = j; l < d; l++) {
                        acc[base + l] += cj * c[l];
                    }
                }
            }
            return acc;
        }).toArray(double[][]::new);
        double[][] cov = new double[d][d];
        for (double[] p : partial) {
            for (int j = 0; j < d; j++) {
                for (int l = j; l < d; l++) {
                    cov[j][l] += p[j * d + l];
                }
            }
        }
        for (int j = 0; j < d; j++) {
            for (int l = j; l < d; l++) {
                cov[j][l] /= Math.max(rows, 1);
                cov[l][j] = cov[j][l];
            }
        }
        return cov;
    }

    static double[][] covariance(float[][] rows, double[] meanOut) {
        int d = meanOut.length;
        VectorStore s = new VectorStore(d, Precision.FLOAT32);
        for (float[] r : rows) {
            s.append(r);
        }
        return covariance(s, rows.length, meanOut);
    }

    /** {@code count} indices spread evenly over [0, n). */
    static int[] spread(int n, int count) {
        int m = Math.min(n, count);
        int[] out = new int[m];
        for (int i = 0; i < m; i++) {
            out[i] = (int) ((long) i * n / m);
        }
        return out;
    }

    static float[][] sample(VectorStore store, int count) {
        int[] idx = spread(store.size(), count);
        float[][] out = new float[idx.length][];
        for (int i = 0; i < idx.length; i++) {
            out[i] = store.row(idx[i]);
        }
        return out;
    }

    static float[][] sample(float[][] rows, int count) {
        int[] idx = spread(rows.length, count);
        float[][] out = new float[idx.length][];
        for (int i = 0; i < idx.length; i++) {
            out[i] = rows[idx[i]];
        }
        return out;
    }

    /**
     * Per query, the softmax mass (logits {@code scale * q.k} over keys [0, nKeys)) held by its top {@code k}
     * keys, computed in one streaming pass (running log-sum-exp and a top-k heap per query).
     */
    static double[] topMass(VectorStore keys, int nKeys, float[][] queries, float scale, int k, Scorer scorer) {
        int m = queries.length;
        double[] max = new double[m];
        double[] sum = new double[m];
        float[][] heaps = new float[m][Math.min(k, Math.max(nKeys, 1))];
        int[] heapSize = new int[m];
        Arrays.fill(max, Double.NEGATIVE_INFINITY);
        int block = Math.max(1024, Math.min(BLOCK * 4, (int) (16_000_000L / Math.max(m, 1))));
        for (int from = 0; from < nKeys; from += block) {
            int to = Math.min(nKeys, from + block);
            ScoreMatrix sm = scorer.scores(queries, keys, from, to);
            int cols = to - from;
            float[] s = sm.scores();
            IntStream.range(0, m).parallel().forEach(q -> {
                int base = q * cols;
                double mx = max[q];
                double sm1 = sum[q];
                float[] heap = heaps[q];
                int size = heapSize[q];
                for (int c = 0; c < cols; c++) {
                    float score = s[base + c];
                    double logit = scale * (double) score;
                    if (logit > mx) {
                        sm1 = sm1 * Math.exp(mx - logit) + 1;
                        mx = logit;
                    } else {
                        sm1 += Math.exp(logit - mx);
                    }
                    if (size < heap.length) {
                        heap[size++] = score;
                        siftUp(heap, size - 1);
                    } else if (score > heap[0]) {
                        heap[0] = score;
                        siftDown(heap, size);
                    }
                }
                max[q] = mx;
                sum[q] = sm1;
                heapSize[q] = size;
            });
        }
        double[] mass = new double[m];
        for (int q = 0; q < m; q++) {
            double top = 0;
            for (int i = 0; i < heapSize[q]; i++) {
                top += Math.exp(scale * (double) heaps[q][i] - max[q]);
            }
            mass[q] = sum[q] > 0 ? top / sum[q] : 0;
        }
        return mass;
    }

    private static void siftUp(float[] h, int i) {
        float x = h[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (h[parent] <= x) {
                break;
            }
            h[i] = h[parent];
            i = parent;
        }
        h[i] = x;
    }

    private static void siftDown(float[] h, int size) {
        float x = h[0];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && h[child + 1] < h[child]) {
                child++;
            }
            if (h[child] >= x) {
                break;
            }
            h[i] = h[child];
            i = child;
        }
        h[i] = x;
    }

    static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return v.length == 0 ? Double.NaN : s / v.length;
    }

    static double median(double[] v) {
        if (v.length == 0) {
            return Double.NaN;
        }
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    // ---------------------------------------------------------------- k-means

    /**
     * {@link KMeans} from distinct random points; the nearest centroids on a one-thread SIMD scorer, batches of
     * points in parallel, squared norms summed in double.
     */
    static KMeans.Result kmeans(float[][] points, int clusters, int iterations, long seed) {
        try (SimdScorer scorer = new SimdScorer(1)) {
            return KMeans.randomSeeds(clusters, iterations, seed, nearest(scorer)).fit(points);
        }
    }

    private static NearestCentroid nearest(SimdScorer scorer) {
        return new NearestCentroid(scorer, 2048, NearestCentroid.Norm.DOUBLE);
    }

    /** Share of the variance of {@code points} between the clusters of a k-means clustering (1 - within / total). */
    static double kmeansShare(float[][] points, int clusters, int iterations, long seed) {
        if (points.length <= clusters) {
            return Double.NaN;
        }
        int d = points[0].length;
        KMeans.Result clustering = kmeans(points, clusters, iterations, seed);
        float[][] centroids = clustering.centroids();
        int[] assignment = clustering.assignment();
        double[] mean = mean(points);
        double total = 0;
        double within = 0;
        for (int i = 0; i < points.length; i++) {
            float[] p = points[i];
            float[] c = centroids[assignment[i]];
            for (int j = 0; j < d; j++) {
                double a = p[j] - mean[j];
                double b = p[j] - c[j];
                total += a * a;
                within += b * b;
            }
        }
        return total > 0 ? 1 - within / total : Double.NaN;
    }

    static double kmeansShare(float[][] points, long seed) {
        return kmeansShare(sample(points, SHARE_SAMPLE), SHARE_CLUSTERS, SHARE_ITERATIONS, seed);
    }

    // ---------------------------------------------------------------- IVF

    /** An IVF partition of the keys: centroids trained on a sample, every key's list. */
    record Ivf(float[][] centroids, int[] listOf, int[] listSize) {

        static Ivf build(VectorStore keys, int clusters, long seed) {
            float[][] sample = sample(keys, IVF_SAMPLE);
            float[][] centroids = kmeans(sample, Math.min(clusters, sample.length), IVF_ITERATIONS, seed).centroids();
            int n = keys.size();
            int[] listOf = new int[n];
            int chunk = 65536;
            try (SimdScorer scorer = new SimdScorer(1)) {
                NearestCentroid nearest = nearest(scorer);
                for (int from = 0; from < n; from += chunk) {
                    int to = Math.min(n, from + chunk);
                    float[][] rows = new float[to - from][];
                    for (int i = from; i < to; i++) {
                        rows[i - from] = keys.row(i);
                    }
                    int[] a = new int[rows.length];
                    nearest.assign(rows, centroids, a);
                    System.arraycopy(a, 0, listOf, from, a.length);
                }
            }
            int[] sizes = new int[centroids.length];
            for (int l : listOf) {
                sizes[l]++;
            }
            return new Ivf(centroids, listOf, sizes);
        }

        /**
         * Median over {@code queries} of the fraction of keys scanned, lists in order of centroid inner product,
         * until {@code need} of the query's true top-{@code k} are covered.
         */
        double medianScan(VectorStore keys, float[][] queries, int k, int need, Scorer scorer) {
            if (queries.length == 0) {
                return Double.NaN;
            }
            TopKResult exact = scorer.topK(queries, keys, k);
            int n = keys.size();
            double[] fractions = new double[queries.length];
            IntStream.range(0, queries.length).parallel().forEach(qi -> {
                float[] q = queries[qi];
                TopK top = exact.get(qi);
                int[] inList = new int[centroids.length];
                for (int id : top.ids()) {
                    inList[listOf[id]]++;
                }
                Integer[] order = new Integer[centroids.length];
                double[] ip = new double[centroids.length];
                for (int c = 0; c < centroids.length; c++) {
                    order[c] = c;
                    double s = 0;
                    for (int j = 0; j < q.length; j++) {
                        s += (double) q[j] * centroids[c][j];
                    }
                    ip[c] = s;
                }
                Arrays.sort(order, (a, b) -> Double.compare(ip[b], ip[a]));
                int target = Math.min(need, top.size());
                long scanned = 0;
                int covered = 0;
                for (int c : order) {
                    if (covered >= target) {
                        break;
                    }
                    covered += inList[c];
                    scanned += listSize[c];
                }
                fractions[qi] = (double) scanned / n;
            });
            return median(fractions);
        }
    }
}
