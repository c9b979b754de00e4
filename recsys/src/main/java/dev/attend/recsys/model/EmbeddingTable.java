package dev.attend.recsys.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Rows of embeddings in one array; row 0 is the padding/unknown id and starts at zero. Grows online ({@link #grow}):
 * the array has room for more rows than are in use, so that rows for new ids cost no copy of the table each.
 */
final class EmbeddingTable {

    final String name;
    final int dim;
    private final double std;
    /** Rows in use (the rest of {@link #weights} is room to grow). */
    int rows;
    float[] weights;

    EmbeddingTable(String name, int rows, int dim, double std, SplittableRandom rnd) {
        this.name = name;
        this.rows = rows;
        this.dim = dim;
        this.std = std;
        this.weights = new float[rows * dim];
        for (int i = dim; i < weights.length; i++) {
            weights[i] = (float) (std * rnd.nextGaussian());
        }
    }

    int offset(int row) {
        return row * dim;
    }

    /**
     * Rows up to {@code newRows} in use, the new ones initialised as at construction; the array doubles when it is
     * full (a new array: readers holding the old one read rows that are unchanged in the new one).
     */
    void grow(int newRows, SplittableRandom rnd) {
        if (newRows <= rows) {
            return;
        }
        float[] w = weights;
        if ((long) newRows * dim > w.length) {
            w = Arrays.copyOf(w, (int) Math.min(Integer.MAX_VALUE - 8, Math.max(2L * w.length, (long) newRows * dim)));
        }
        for (int i = rows * dim; i < newRows * dim; i++) {
            w[i] = (float) (std * rnd.nextGaussian());
        }
        weights = w;
        rows = newRows;
    }

    /** The rows in use: what is saved. */
    float[] used() {
        return weights.length == rows * dim ? weights : Arrays.copyOf(weights, rows * dim);
    }
}
