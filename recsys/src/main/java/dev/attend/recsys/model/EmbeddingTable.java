package dev.attend.recsys.model;

import java.util.SplittableRandom;

/** Rows of embeddings in one array; row 0 is the padding/unknown id and starts at zero. */
final class EmbeddingTable {

    final String name;
    final int rows;
    final int dim;
    final float[] weights;

    EmbeddingTable(String name, int rows, int dim, double std, SplittableRandom rnd) {
        this.name = name;
        this.rows = rows;
        this.dim = dim;
        this.weights = new float[rows * dim];
        for (int i = dim; i < weights.length; i++) {
            weights[i] = (float) (std * rnd.nextGaussian());
        }
    }

    int offset(int row) {
        return row * dim;
    }
}
