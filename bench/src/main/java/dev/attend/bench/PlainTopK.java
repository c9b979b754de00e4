package dev.attend.bench;

import dev.attend.gpu.Device;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import java.util.ArrayList;
import java.util.List;

/**
 * The baseline every speed-up is measured against: what one writes without thinking about the
 * hardware. One thread, one row at a time through the store's public {@code readRow}, a scalar dot
 * product accumulated in float, a plain binary min-heap per query.
 */
public final class PlainTopK {

    public static final Device DEVICE = new Device("plain", Device.Kind.CPU, "plain Java loop, 1 thread, float accumulation");

    private PlainTopK() {
    }

    /** The {@code k} best rows of {@code keys} for each query (ties in no particular order). */
    public static TopKResult topK(float[][] queries, VectorStore keys, int k) {
        int n = keys.size();
        int d = keys.dim();
        int kk = Math.min(k, n);
        Heap[] heaps = new Heap[queries.length];
        for (int i = 0; i < heaps.length; i++) {
            heaps[i] = new Heap(kk);
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
        for (Heap h : heaps) {
            out.add(h.drain());
        }
        return new TopKResult(out, DEVICE);
    }

    /** Min-heap of the k best (score, id) pairs: the root is the one to beat. */
    static final class Heap {
        private final float[] scores;
        private final int[] ids;
        private int size;

        Heap(int k) {
            scores = new float[k];
            ids = new int[k];
        }

        void offer(float s, int id) {
            if (size < scores.length) {
                int i = size++;
                while (i > 0 && scores[(i - 1) / 2] > s) {
                    scores[i] = scores[(i - 1) / 2];
                    ids[i] = ids[(i - 1) / 2];
                    i = (i - 1) / 2;
                }
                scores[i] = s;
                ids[i] = id;
            } else if (size > 0 && s > scores[0]) {
                int i = 0;
                while (true) {
                    int child = 2 * i + 1;
                    if (child >= size) {
                        break;
                    }
                    if (child + 1 < size && scores[child + 1] < scores[child]) {
                        child++;
                    }
                    if (scores[child] >= s) {
                        break;
                    }
                    scores[i] = scores[child];
                    ids[i] = ids[child];
                    i = child;
                }
                scores[i] = s;
                ids[i] = id;
            }
        }

        /** Best first; empties the heap. */
        TopK drain() {
            int n = size;
            int[] outIds = new int[n];
            float[] outScores = new float[n];
            for (int r = n - 1; r >= 0; r--) {
                outIds[r] = ids[0];
                outScores[r] = scores[0];
                float s = scores[--size];
                int id = ids[size];
                int i = 0;
                while (true) {
                    int child = 2 * i + 1;
                    if (child >= size) {
                        break;
                    }
                    if (child + 1 < size && scores[child + 1] < scores[child]) {
                        child++;
                    }
                    if (scores[child] >= s) {
                        break;
                    }
                    scores[i] = scores[child];
                    ids[i] = ids[child];
                    i = child;
                }
                if (size > 0) {
                    scores[i] = s;
                    ids[i] = id;
                }
            }
            return new TopK(outIds, outScores);
        }
    }
}
