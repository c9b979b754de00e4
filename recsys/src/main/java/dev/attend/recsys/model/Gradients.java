package dev.attend.recsys.model;

import java.util.Arrays;
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

    /** Adds everything {@code other} holds. */
    void add(Gradients other) {
        for (int l = 0; l < weights.length; l++) {
            addInto(weights[l], other.weights[l]);
            addInto(biases[l], other.biases[l]);
        }
        for (int l = 0; l < slopes.length; l++) {
            addInto(slopes[l], other.slopes[l]);
        }
        for (Map.Entry<EmbeddingTable, Map<Integer, float[]>> e : other.rows.entrySet()) {
            Map<Integer, float[]> mine = rows.computeIfAbsent(e.getKey(), t -> new HashMap<>());
            for (Map.Entry<Integer, float[]> row : e.getValue().entrySet()) {
                float[] target = mine.computeIfAbsent(row.getKey(), r -> new float[row.getValue().length]);
                addInto(target, row.getValue());
            }
        }
    }

    private static void addInto(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            a[i] += b[i];
        }
    }

    void clear() {
        for (float[][] block : new float[][][] {weights, biases, slopes}) {
            for (float[] a : block) {
                Arrays.fill(a, 0);
            }
        }
        rows.clear();
    }
}
