package dev.attend.bench;

import dev.attend.gpu.Device;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import java.util.ArrayList;
import java.util.List;

/**
 * The baseline every speed-up is measured against: what one writes without thinking about the
 * hardware. One thread, one row at a time through the store's public {@code readRow}, a scalar dot
 * product accumulated in float; the same {@link TopKCollector} heap as every scorer, so that the
 * comparison measures the scan.
 */
public final class PlainTopK {

    public static final Device DEVICE = new Device("plain", Device.Kind.CPU, "plain Java loop, 1 thread, float accumulation");

    private PlainTopK() {
    }

    /** The {@code k} best rows of {@code keys} for each query. */
    public static TopKResult topK(float[][] queries, VectorStore keys, int k) {
        int n = keys.size();
        int d = keys.dim();
        int kk = Math.min(k, n);
        TopKCollector[] heaps = new TopKCollector[queries.length];
        for (int i = 0; i < heaps.length; i++) {
            heaps[i] = new TopKCollector(kk);
        }
        float[] row = new float[d];
        if (kk > 0) {
            for (int j = 0; j < n; j++) {
                keys.readRow(j, row);
                for (int i = 0; i < queries.length; i++) {
                    float[] q = queries[i];
                    float s = 0f;
                    for (int c = 0; c < d; c++) {
                        s += q[c] * row[c];
                    }
                    heaps[i].offer(s, j);
                }
            }
        }
        List<TopK> out = new ArrayList<>(heaps.length);
        for (TopKCollector h : heaps) {
            out.add(h.drain());
        }
        return new TopKResult(out, DEVICE);
    }
}
