package dev.attend.recsys.model;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Gradients of one model over a batch: dense for the MLP, sparse (the rows a batch touched) for the embedding
 * tables. One per training thread; the optimizer sums them.
 */
final class Gradients {

    final float[][] weights;
    final float[][] biases;
    final float[][] slopes;
    final Map<EmbeddingTable, Map<Integer, float[]>> rows = new IdentityHashMap<>();

    Gradients(Mlp mlp) {
        weights = new float[mlp.layers()][];
        biases = new float[mlp.layers()][];
        slopes = new float[mlp.slopes.length][];
        for (int l = 0; l < mlp.layers(); l++) {
            weights[l] = new float[mlp.weights[l].length];
            biases[l] = new float[mlp.biases[l].length];
        }
        for (int l = 0; l < slopes.length; l++) {
            slopes[l] = new float[mlp.slopes[l].length];
        }
    }

    /** Adds {@code scale * src[from, from + table.dim)} to the gradient of {@code row}. */
    void addRow(EmbeddingTable table, int row, float[] src, int from, float scale) {
        float[] g = rows.computeIfAbsent(table, t -> new HashMap<>()).computeIfAbsent(row, r -> new float[table.dim]);
        for (int c = 0; c < table.dim; c++) {
            g[c] += scale * src[from + c];
        }
    }

    float[] row(EmbeddingTable table, int row) {
        Map<Integer, float[]> m = rows.get(table);
        return m == null ? null : m.get(row);
    }

    void clear() {
        for (float[][] block : new float[][][] {weights, biases, slopes}) {
            for (float[] a : block) {
                java.util.Arrays.fill(a, 0);
            }
        }
        rows.clear();
    }
}
