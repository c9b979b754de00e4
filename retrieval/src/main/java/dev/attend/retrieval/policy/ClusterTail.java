package dev.attend.retrieval.policy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorMath;
import dev.attend.gpu.VectorStore;
import dev.attend.index.cluster.KMeans;
import dev.attend.index.cluster.NearestCentroid;
import java.util.Arrays;

/**
 * The keys of positions {@code [from, ...)} in k-means clusters, each kept as its centroid, the sum of its members'
 * values and their count: a query's attention over the members of a cluster is estimated as if every member had
 * the centroid's key, so {@code m exp(s q.mu)} stands for their weights and the value sum for their outputs
 * (RetroInfer's estimate of the keys no top-k holds). Members named in {@link #estimate}'s {@code exact} (attended
 * exactly elsewhere) are taken out of their clusters first, so nothing is counted twice. With one key per cluster
 * the estimate is exact. Clusters are made once, from the keys there at {@link #build}; later keys join the
 * nearest centroid, which stays where it was.
 */
final class ClusterTail {

    private static final int ITERATIONS = 6;

    private final int dim;
    private final int from;
    private final float[] centroids; // C x dim
    private final double[] valueSums; // C x dim
    private final int[] sizes;
    private int[] clusterOf; // by position - from
    private int members;
    private final VectorStore values;

    private ClusterTail(int dim, int from, float[] centroids, double[] valueSums, int[] sizes, int[] clusterOf, int members, VectorStore values) {
        this.dim = dim;
        this.from = from;
        this.centroids = centroids;
        this.valueSums = valueSums;
        this.sizes = sizes;
        this.clusterOf = clusterOf;
        this.members = members;
        this.values = values;
    }

    /** Clusters of the keys at positions [from, to): {@code clusters} of them, or the square root of their count for 0. */
    static ClusterTail build(VectorStore keys, VectorStore values, int from, int to, int clusters, Scorer scorer) {
        int dim = keys.dim();
        int n = to - from;
        int c = Math.max(1, Math.min(n, clusters > 0 ? clusters : (int) Math.round(Math.sqrt(n))));
        float[][] rows = new float[n][];
        for (int i = 0; i < n; i++) {
            rows[i] = keys.row(from + i);
        }
        // Evenly spaced keys to start: the same clusters every time.
        NearestCentroid nearest = new NearestCentroid(scorer, 0, NearestCentroid.Norm.VECTOR);
        KMeans.Result clustering = KMeans.spreadSeeds(c, ITERATIONS, nearest).fit(rows);
        float[] centroids = new float[c * dim];
        for (int j = 0; j < c; j++) {
            System.arraycopy(clustering.centroids()[j], 0, centroids, j * dim, dim);
        }
        int[] assignment = clustering.assignment();
        double[] valueSums = new double[c * dim];
        int[] sizes = new int[c];
        float[] v = new float[dim];
        for (int i = 0; i < n; i++) {
            values.readRow(from + i, v);
            sizes[assignment[i]]++;
            for (int d = 0; d < dim; d++) {
                valueSums[assignment[i] * dim + d] += v[d];
            }
        }
        return new ClusterTail(dim, from, centroids, valueSums, sizes, assignment, n, values);
    }

    /** The key and value at {@code position} (the next one) join the nearest cluster. */
    void add(int position, float[] key, float[] value) {
        int i = position - from;
        if (i != members) {
            throw new IllegalStateException("position " + position + " is not the next one (" + (from + members) + ")");
        }
        int best = 0;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int j = 0; j < sizes.length; j++) {
            double dist = 0;
            for (int d = 0; d < dim; d++) {
                double diff = key[d] - centroids[j * dim + d];
                dist += diff * diff;
            }
            if (dist < bestDistance) {
                bestDistance = dist;
                best = j;
            }
        }
        if (i == clusterOf.length) {
            clusterOf = Arrays.copyOf(clusterOf, Math.max(16, 2 * clusterOf.length));
        }
        clusterOf[i] = best;
        members++;
        sizes[best]++;
        for (int d = 0; d < dim; d++) {
            valueSums[best * dim + d] += value[d];
        }
    }

    int clusters() {
        return sizes.length;
    }

    /**
     * The estimated attention output and log-sum-exp of {@code query} over the members not in {@code exact}
     * (positions attended exactly elsewhere; those outside the clustered range are ignored); null when none is left.
     */
    Estimate estimate(float[] query, float scale, int[] exact) {
        int c = sizes.length;
        int[] left = sizes.clone();
        double[] sums = null;
        float[] v = new float[dim];
        for (int p : exact) {
            int i = p - from;
            if (i >= 0 && i < members) {
                int j = clusterOf[i];
                left[j]--;
                if (sums == null) {
                    sums = valueSums.clone();
                }
                values.readRow(p, v);
                for (int d = 0; d < dim; d++) {
                    sums[j * dim + d] -= v[d];
                }
            }
        }
        if (sums == null) {
            sums = valueSums;
        }
        double max = Double.NEGATIVE_INFINITY;
        double[] logits = new double[c];
        for (int j = 0; j < c; j++) {
            logits[j] = left[j] > 0 ? Math.log(left[j]) + scale * VectorMath.dot(query, 0, centroids, j * dim, dim) : Double.NEGATIVE_INFINITY;
            max = Math.max(max, logits[j]);
        }
        if (max == Double.NEGATIVE_INFINITY) {
            return null;
        }
        double total = 0;
        double[] out = new double[dim];
        for (int j = 0; j < c; j++) {
            if (left[j] > 0) {
                double w = Math.exp(logits[j] - max);
                total += w;
                for (int d = 0; d < dim; d++) {
                    out[d] += w * sums[j * dim + d] / left[j];
                }
            }
        }
        float[] output = new float[dim];
        for (int d = 0; d < dim; d++) {
            output[d] = (float) (out[d] / total);
        }
        return new Estimate(output, max + Math.log(total));
    }

    record Estimate(float[] output, double logSumExp) {
    }

    long bytes() {
        return (long) centroids.length * Float.BYTES + (long) valueSums.length * Double.BYTES + (long) sizes.length * Integer.BYTES
                + (long) clusterOf.length * Integer.BYTES;
    }
}
