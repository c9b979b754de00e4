package dev.attend.index.graph;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import java.util.ArrayList;
import java.util.List;

/**
 * Nodes as rows {@code [base, base + size)} of a {@link VectorStore}: the index's own store (base 0, every row a
 * node) or a shared one that holds other rows before and after the nodes (a KV session's sinks and window) and keeps
 * growing. Rows are never copied; a float16 store is widened one row at a time into the scorer's scratch.
 */
final class StoreVectors implements GraphVectors {

    private final VectorStore store;
    private final int base;
    private final boolean owned;
    private volatile int size;

    StoreVectors(VectorStore store, int base, boolean owned) {
        this.store = store;
        this.base = base;
        this.owned = owned;
    }

    VectorStore store() {
        return store;
    }

    /** The store row of node 0. */
    int base() {
        return base;
    }

    /** Nodes up to {@code size} are readable (the rows are in the store already). */
    void setSize(int size) {
        if (base + size > store.size()) {
            throw new IllegalStateException("the store holds " + store.size() + " rows, not " + (base + size));
        }
        this.size = size;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int dim() {
        return store.dim();
    }

    @Override
    public QueryScorer scorer(float[] query) {
        float[] scratch = new float[store.dim()];
        return new QueryScorer() {
            @Override
            public float score(int ord) {
                return store.dot(base + ord, query, scratch);
            }

            @Override
            public void score(int[] ords, int count, float[] out) {
                store.dots(ords, count, base, query, scratch, out);
            }
        };
    }

    @Override
    public void readRow(int ord, float[] dst, int offset) {
        store.readRow(base + ord, dst, offset);
    }

    @Override
    public void readRows(int[] ords, int count, float[] dst) {
        store.readRows(ords, count, base, dst);
    }

    /** The scan covers the nodes' rows only; ids come back as rows and leave as ordinals. */
    @Override
    public List<TopK> exactTopK(float[][] queries, int from, int to, int k, Scorer scorer) {
        if (from < 0 || from > to || to > size) {
            throw new IllegalArgumentException("nodes [" + from + ", " + to + ") are not within the " + size + " held");
        }
        TopKResult found = scorer.topK(queries, store, base + from, base + to, k);
        if (base == 0) {
            return found.perQuery();
        }
        List<TopK> out = new ArrayList<>(queries.length);
        for (TopK t : found.perQuery()) {
            int[] ids = t.ids().clone();
            for (int i = 0; i < ids.length; i++) {
                ids[i] -= base;
            }
            out.add(new TopK(ids, t.scores()));
        }
        return out;
    }

    @Override
    public long bytes() {
        return owned ? store.bytes() : 0;
    }
}
