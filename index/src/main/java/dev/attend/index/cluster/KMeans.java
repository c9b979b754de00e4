package dev.attend.index.cluster;

import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Lloyd's k-means (L2): first centroids picked among the points, then {@code iterations} rounds of assigning every
 * point to its nearest centroid and moving each centroid to its members' mean (sums in double; an empty cluster keeps
 * its centroid), then a last assignment. With a scorer that scores the same way every time, the same points and
 * settings give the same clusters.
 */
public final class KMeans {

    /** The centroids ({@code min(clusters, points)} of them) and each point's cluster. */
    public record Result(float[][] centroids, int[] assignment) {
    }

    private final int clusters;
    private final int iterations;
    private final boolean randomSeeds;
    private final long seed;
    private final NearestCentroid nearest;

    private KMeans(int clusters, int iterations, boolean randomSeeds, long seed, NearestCentroid nearest) {
        if (clusters < 1 || iterations < 0) {
            throw new IllegalArgumentException("need clusters >= 1 and iterations >= 0, got " + clusters + " and " + iterations);
        }
        this.clusters = clusters;
        this.iterations = iterations;
        this.randomSeeds = randomSeeds;
        this.seed = seed;
        this.nearest = nearest;
    }

    /** First centroids: distinct points drawn with a {@link SplittableRandom} of {@code seed} (a partial shuffle). */
    public static KMeans randomSeeds(int clusters, int iterations, long seed, NearestCentroid nearest) {
        return new KMeans(clusters, iterations, true, seed, nearest);
    }

    /** First centroids: evenly spaced points ({@code j * n / clusters}), the same clusters every time without a seed. */
    public static KMeans spreadSeeds(int clusters, int iterations, NearestCentroid nearest) {
        return new KMeans(clusters, iterations, false, 0, nearest);
    }

    /** Clusters {@code points} (at least one, all of one dimension). */
    public Result fit(float[][] points) {
        int n = points.length;
        int d = points[0].length;
        int c = Math.min(clusters, n);
        float[][] centroids = new float[c][];
        int[] first = randomSeeds ? randomPoints(n, c) : spreadPoints(n, c);
        for (int k = 0; k < c; k++) {
            centroids[k] = points[first[k]].clone();
        }
        int[] assignment = new int[n];
        for (int it = 0; it < iterations; it++) {
            nearest.assign(points, centroids, assignment);
            double[][] sums = new double[c][d];
            int[] counts = new int[c];
            for (int i = 0; i < n; i++) {
                int a = assignment[i];
                counts[a]++;
                float[] p = points[i];
                double[] s = sums[a];
                for (int j = 0; j < d; j++) {
                    s[j] += p[j];
                }
            }
            for (int k = 0; k < c; k++) {
                if (counts[k] > 0) { // an empty cluster keeps its centroid
                    for (int j = 0; j < d; j++) {
                        centroids[k][j] = (float) (sums[k][j] / counts[k]);
                    }
                }
            }
        }
        nearest.assign(points, centroids, assignment);
        return new Result(centroids, assignment);
    }

    private int[] randomPoints(int n, int c) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] perm = IntStream.range(0, n).toArray();
        for (int i = 0; i < c; i++) {
            int j = i + random.nextInt(n - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return perm;
    }

    private static int[] spreadPoints(int n, int c) {
        int[] out = new int[c];
        for (int k = 0; k < c; k++) {
            out[k] = (int) ((long) k * n / c);
        }
        return out;
    }
}
