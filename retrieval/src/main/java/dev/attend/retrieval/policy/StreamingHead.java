package dev.attend.retrieval.policy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorStore;

/**
 * Sinks and a window only: a token that leaves the window is dropped. The held rows are the sinks, then the
 * latest tokens; when the stores hold a quarter of a window more than needed they are rewritten with the
 * sinks and the window alone, so memory stays within 1.25 times sinks + window.
 */
final class StreamingHead extends PolicyHead {

    private final int sinks;
    private final int window;

    StreamingHead(float scale, Scorer scorer, VectorStore keys, VectorStore values, int sinks, int window) {
        super(scale, scorer, keys, values);
        this.sinks = sinks;
        this.window = window;
    }

    @Override
    void prefill(float[][][] queries) {
        dropIfDue();
    }

    @Override
    void took() {
        dropIfDue();
    }

    private void dropIfDue() {
        int held = keys.size();
        if (held > sinks + window + Math.max(1, window / 4)) {
            VectorStore k = new VectorStore(dim, keys.precision());
            VectorStore v = new VectorStore(dim, values.precision());
            float[] row = new float[dim];
            for (int r = 0; r < held; r++) {
                if (r < sinks || r >= held - window) {
                    keys.readRow(r, row);
                    k.append(row);
                    values.readRow(r, row);
                    v.append(row);
                }
            }
            keys = k;
            values = v;
        }
    }

    @Override
    public PolicyAnswer attend(float[] query, int budget) {
        checkQuery(query, budget);
        int held = keys.size();
        int[] subset = staticSet(sinks, held - window, held);
        return exact(query, subset);
    }
}
