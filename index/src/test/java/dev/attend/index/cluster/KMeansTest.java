package dev.attend.index.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.gpu.ScalarScorer;
import dev.attend.gpu.SimdScorer;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class KMeansTest {

    private static final long SEED = Long.getLong("attend.test.seed", 0L);

    /** {@code blobs} tight groups of {@code per} points each, far apart, in order: point i is in blob i / per. */
    private static float[][] blobs(int blobs, int per, int dim, SplittableRandom rnd) {
        float[][] points = new float[blobs * per][dim];
        for (int b = 0; b < blobs; b++) {
            float[] centre = new float[dim];
            for (int j = 0; j < dim; j++) {
                centre[j] = (float) (20 * rnd.nextGaussian());
            }
            for (int i = 0; i < per; i++) {
                for (int j = 0; j < dim; j++) {
                    points[b * per + i][j] = centre[j] + (float) (0.1 * rnd.nextGaussian());
                }
            }
        }
        return points;
    }

    @Test
    void spreadSeedsFindSeparatedBlobs() {
        float[][] points = blobs(5, 40, 8, new SplittableRandom(SEED));
        try (ScalarScorer scorer = new ScalarScorer()) {
            KMeans.Result r = KMeans.spreadSeeds(5, 4, new NearestCentroid(scorer, 0, NearestCentroid.Norm.VECTOR)).fit(points);
            assertThat(r.centroids()).hasNumberOfRows(5);
            // Evenly spaced seeds start one in each blob: blob b is cluster b.
            for (int i = 0; i < points.length; i++) {
                assertThat(r.assignment()[i]).isEqualTo(i / 40);
            }
        }
    }

    @Test
    void randomSeedsAreReproducibleWhicheverWayThePointsGoToTheScorer() {
        float[][] points = blobs(6, 500, 16, new SplittableRandom(SEED + 1));
        try (ScalarScorer scalar = new ScalarScorer()) {
            KMeans.Result a = KMeans.randomSeeds(12, 5, 3, new NearestCentroid(scalar, 0, NearestCentroid.Norm.DOUBLE)).fit(points);
            KMeans.Result b = KMeans.randomSeeds(12, 5, 3, new NearestCentroid(scalar, 256, NearestCentroid.Norm.DOUBLE)).fit(points);
            assertThat(Arrays.deepEquals(a.centroids(), b.centroids())).isTrue();
            assertThat(a.assignment()).isEqualTo(b.assignment());
            assertThat(KMeans.randomSeeds(12, 5, 4, new NearestCentroid(scalar, 0, NearestCentroid.Norm.DOUBLE)).fit(points).centroids())
                    .isNotEqualTo(a.centroids());
        }
    }

    @Test
    void iterationsNeverRaiseTheWithinClusterSquares() {
        float[][] points = blobs(6, 500, 16, new SplittableRandom(SEED + 2));
        try (SimdScorer one = new SimdScorer(1)) {
            for (NearestCentroid.Norm norm : NearestCentroid.Norm.values()) {
                double last = Double.POSITIVE_INFINITY;
                for (int iterations = 0; iterations <= 5; iterations++) {
                    KMeans.Result r = KMeans.randomSeeds(12, iterations, 3, new NearestCentroid(one, 256, norm)).fit(points);
                    double within = within(points, r);
                    assertThat(within).as("%s after %d iterations", norm, iterations).isLessThanOrEqualTo(last * (1 + 1e-6));
                    last = within;
                }
            }
        }
    }

    private static double within(float[][] points, KMeans.Result r) {
        double sum = 0;
        for (int i = 0; i < points.length; i++) {
            float[] c = r.centroids()[r.assignment()[i]];
            for (int j = 0; j < c.length; j++) {
                sum += (points[i][j] - c[j]) * (double) (points[i][j] - c[j]);
            }
        }
        return sum;
    }

    @Test
    void moreClustersThanPointsGiveOnePerPoint() {
        float[][] points = {{0, 0}, {1, 0}, {0, 1}};
        try (ScalarScorer scorer = new ScalarScorer()) {
            KMeans.Result r = KMeans.randomSeeds(10, 3, SEED, new NearestCentroid(scorer, 0, NearestCentroid.Norm.DOUBLE)).fit(points);
            assertThat(r.centroids()).hasNumberOfRows(3);
            assertThat(Arrays.stream(r.assignment()).distinct().count()).isEqualTo(3);
        }
    }
}
