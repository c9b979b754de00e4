package dev.attend.index.cluster;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorMath;
import dev.attend.gpu.VectorStore;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The nearest centroid (L2) of every point, found as the largest {@code x.c - |c|^2 / 2}: the top-1 inner product of
 * {@code [x, 1]} with {@code [c, -|c|^2 / 2]} on a {@link Scorer}. How the points go to the scorer and how the squared
 * norms are summed are settings, so that each caller keeps the clusters it had before they shared this class.
 */
public final class NearestCentroid {

    /** How {@code |c|^2} is summed. */
    public enum Norm {
        /** float products summed in double, one component after the other */
        DOUBLE,
        /** {@link VectorMath#dot}: float, Vector API lanes */
        VECTOR
    }

    private final Scorer scorer;
    private final int batch;
    private final Norm norm;

    /**
     * @param scorer the scorer of the top-1 searches (the caller keeps it open while this is used)
     * @param batch  0: all points in one call; else batches of that many points, in parallel (the scorer must take
     *               concurrent calls)
     * @param norm   how the centroids' squared norms are summed
     */
    public NearestCentroid(Scorer scorer, int batch, Norm norm) {
        if (batch < 0) {
            throw new IllegalArgumentException("batch must be >= 0, got " + batch);
        }
        this.scorer = scorer;
        this.batch = batch;
        this.norm = norm;
    }

    /** Writes each point's nearest centroid to {@code assignment}. */
    public void assign(float[][] points, float[][] centroids, int[] assignment) {
        int d = centroids[0].length;
        float[] augmented = new float[centroids.length * (d + 1)];
        for (int k = 0; k < centroids.length; k++) {
            System.arraycopy(centroids[k], 0, augmented, k * (d + 1), d);
            augmented[k * (d + 1) + d] = halfNegativeSquare(centroids[k]);
        }
        VectorStore store = VectorStore.of(d + 1, augmented);
        if (batch == 0) {
            assign(points, 0, points.length, store, assignment);
        } else {
            IntStream.range(0, (points.length + batch - 1) / batch).parallel()
                    .forEach(b -> assign(points, b * batch, Math.min(points.length, (b + 1) * batch), store, assignment));
        }
    }

    private void assign(float[][] points, int from, int to, VectorStore centroids, int[] assignment) {
        int d = centroids.dim() - 1;
        float[][] queries = new float[to - from][];
        for (int i = from; i < to; i++) {
            queries[i - from] = Arrays.copyOf(points[i], d + 1);
            queries[i - from][d] = 1f;
        }
        TopKResult found = scorer.topK(queries, centroids, 1);
        for (int i = from; i < to; i++) {
            assignment[i] = found.get(i - from).ids()[0];
        }
    }

    private float halfNegativeSquare(float[] c) {
        return switch (norm) {
            case VECTOR -> (float) (-0.5 * VectorMath.dot(c, 0, c, 0, c.length));
            case DOUBLE -> {
                double sq = 0;
                for (float x : c) {
                    sq += (double) x * x;
                }
                yield (float) (-sq / 2);
            }
        };
    }
}
