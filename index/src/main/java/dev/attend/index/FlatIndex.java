package dev.attend.index;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopK;
import dev.attend.gpu.VectorStore;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Exact search: every query scores every vector on the gpu {@link Scorer} (SIMD or OpenCL). The
 * baseline every approximate index is measured against, and the right index for small sets.
 *
 * <p>Rows are append-only; a removed row is skipped at search time and dropped when the index is
 * compacted (once a quarter of the rows are removed). The scorer is shared, not owned: closing the
 * index does not close it.
 */
public final class FlatIndex extends AbstractVectorIndex {

    static final String TYPE = "flat";

    private final Scorer scorer;
    private volatile Rows rows;

    /** Rows, their ids and the removed ones: replaced whole on compaction, so searches see one consistent set. */
    private static final class Rows {
        final VectorStore store;
        volatile long[] ids = new long[1024];
        final Map<Long, Integer> rowOf = new ConcurrentHashMap<>();
        final BitSet removed = new BitSet();
        volatile int removedCount;

        Rows(int storedDim) {
            store = new VectorStore(storedDim, Precision.FLOAT32);
        }

        void append(long id, float[] encoded) {
            int row = store.size();
            if (row == ids.length) {
                ids = Arrays.copyOf(ids, row * 2);
            }
            ids[row] = id;
            rowOf.put(id, row);
            store.append(encoded);
        }

        boolean isRemoved(int row) {
            synchronized (removed) {
                return removed.get(row);
            }
        }
    }

    public FlatIndex(int dim, Similarity similarity, Scorer scorer) {
        super(dim, similarity);
        this.scorer = Objects.requireNonNull(scorer, "scorer");
        this.rows = new Rows(encoding().storedDim());
    }

    @Override
    public int size() {
        Rows r = rows;
        return r.store.size() - r.removedCount;
    }


    @Override
    protected void addChecked(long[] ids, float[][] encoded) {
        Rows r = rows;
        for (int i = 0; i < ids.length; i++) {
            r.append(ids[i], encoded[i]);
        }
    }

    @Override
    protected void removeChecked(long id) {
        Rows r = rows;
        int row = r.rowOf.remove(id);
        synchronized (r.removed) {
            r.removed.set(row);
        }
        r.removedCount++;
        if (r.removedCount > 1024 && r.removedCount > r.store.size() / 4) {
            compact(r);
        }
    }

    private void compact(Rows r) {
        Rows fresh = new Rows(encoding().storedDim());
        float[] row = new float[encoding().storedDim()];
        for (int i = 0, n = r.store.size(); i < n; i++) {
            if (!r.isRemoved(i)) {
                r.store.readRow(i, row);
                fresh.append(r.ids[i], row.clone());
            }
        }
        rows = fresh;
    }

    @Override
    public boolean contains(long id) {
        return rows.rowOf.containsKey(id);
    }

    @Override
    protected SearchResult searchChecked(float[] query, int k, int budget) {
        long start = System.nanoTime();
        Rows r = rows;
        int n = r.store.size();
        int removed = r.removedCount;
        float[] q = encoding().encodeQuery(query);
        // Ask for enough extra rows that k live ones remain after skipping removed rows.
        TopK top = scorer.topK(new float[][] {q}, r.store, Math.min(n, k + removed)).get(0);
        long[] ids = new long[Math.min(k, top.size())];
        float[] scores = new float[ids.length];
        long[] rowIds = r.ids;
        int found = 0;
        for (int i = 0; i < top.size() && found < ids.length; i++) {
            int row = top.ids()[i];
            if (!r.isRemoved(row)) {
                ids[found] = rowIds[row];
                scores[found] = encoding().decodeScore(top.scores()[i], query);
                found++;
            }
        }
        SearchStats stats = new SearchStats(n, 0, (System.nanoTime() - start) / 1000, "flat");
        return new SearchResult(Arrays.copyOf(ids, found), Arrays.copyOf(scores, found), stats);
    }

    @Override
    public synchronized void save(Path dir) throws IOException {
        Rows r = rows;
        int n = r.store.size();
        Properties meta = newMeta();
        meta.setProperty("count", Integer.toString(size()));
        int storedDim = encoding().storedDim();
        IndexFiles.commit(dir, TYPE, meta, Map.of("vectors", out -> {
            float[] row = new float[storedDim];
            for (int i = 0; i < n; i++) {
                if (!r.isRemoved(i)) {
                    out.writeLong(r.ids[i]);
                    r.store.readRow(i, row);
                    for (float x : row) {
                        out.writeFloat(x);
                    }
                }
            }
        }));
    }

    /** Opens an index saved by {@link #save}, scoring on {@code scorer}. */
    public static FlatIndex open(Path dir, Scorer scorer) throws IOException {
        IndexFiles.Generation g = IndexFiles.open(dir, TYPE);
        int dim = Integer.parseInt(g.require("dim"));
        Similarity similarity = Similarity.valueOf(g.require("similarity"));
        int count = Integer.parseInt(g.require("count"));
        FlatIndex index = new FlatIndex(dim, similarity, scorer);
        int storedDim = index.encoding().storedDim();
        try (DataInputStream in = g.read("vectors", (long) count * (8 + 4L * storedDim))) {
            float[] row = new float[storedDim];
            for (int i = 0; i < count; i++) {
                long id = in.readLong();
                for (int c = 0; c < storedDim; c++) {
                    row[c] = in.readFloat();
                }
                index.rows.append(id, row.clone());
            }
        }
        return index;
    }

    @Override
    public long memoryBytes() {
        Rows r = rows;
        return r.store.bytes() + 8L * r.ids.length + 64L * r.rowOf.size();
    }

    @Override
    public void close() {
    }
}
