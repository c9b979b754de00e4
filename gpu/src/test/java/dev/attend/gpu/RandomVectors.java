package dev.attend.gpu;

import java.util.SplittableRandom;

/** Reproducible random test data: every test prints the seed it used. */
final class RandomVectors {

    private RandomVectors() {
    }

    static float[][] gaussian(SplittableRandom rnd, int n, int dim, double shift) {
        float[][] out = new float[n][dim];
        for (float[] row : out) {
            for (int c = 0; c < dim; c++) {
                row[c] = (float) (gaussian(rnd) + shift);
            }
        }
        return out;
    }

    static VectorStore store(float[][] rows, int dim, Precision precision) {
        VectorStore s = new VectorStore(dim, precision);
        for (float[] row : rows) {
            s.append(row);
        }
        return s;
    }

    static double gaussian(SplittableRandom rnd) {
        double u = 1 - rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
