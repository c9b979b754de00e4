package dev.attend.retrieval.policy;

import java.util.SplittableRandom;

/** Heads of planted character, {keys, queries} with one query per position: what the policy tests measure. */
public final class PlantedHeads {

    private PlantedHeads() {
    }

    /**
     * Keys carry their position as an angle on two dimensions (a rotation, as RoPE, under one turn over the head); a
     * local head's queries point at their own position sharply, a reaching head's at a random earlier one.
     */
    public static float[][][] head(long seed, boolean local, int n, int dim) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[][] keys = new float[n][dim];
        float[][] queries = new float[n][dim];
        for (int t = 0; t < n; t++) {
            double angle = t * 0.001;
            keys[t][0] = (float) Math.cos(angle);
            keys[t][1] = (float) Math.sin(angle);
            for (int c = 2; c < dim; c++) {
                keys[t][c] = (float) (0.1 * rnd.nextGaussian());
            }
            double target = local ? angle : rnd.nextInt(t + 1) * 0.001;
            queries[t][0] = (float) (6000 * Math.cos(target));
            queries[t][1] = (float) (6000 * Math.sin(target));
        }
        return new float[][][] {keys, queries};
    }

    /** A head whose queries spread over every earlier key alike: nothing concentrates its mass. */
    public static float[][][] diffuse(long seed, int n, int dim) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[][] keys = new float[n][dim];
        float[][] queries = new float[n][dim];
        for (int t = 0; t < n; t++) {
            for (int c = 0; c < dim; c++) {
                keys[t][c] = (float) rnd.nextGaussian();
                queries[t][c] = (float) (0.05 * rnd.nextGaussian());
            }
        }
        return new float[][][] {keys, queries};
    }
}
