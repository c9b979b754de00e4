package dev.attend.bench;

import dev.attend.bench.workload.KvWorkload;
import dev.attend.gpu.VectorStore;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.factory.IndexKind;
import dev.attend.index.factory.VectorIndexes;
import dev.attend.index.graph.AttentionAwareIndex;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The indexes {@link IndexBench} knows, by name: {@code flat}, {@code lucene} and {@code hnswlib} through the index
 * module's one factory ({@link VectorIndexes}), and {@code attention} ({@link AttentionAwareIndex}, built from the
 * workload's training queries, which the factory does not take). A class path without Lucene or hnswlib (the GPU
 * machine's trimmed one) reports that index as skipped with the reason. To add an index, add it to the factory and
 * here to {@link #all()}.
 */
final class IndexFactories {

    /** Every index name, in report order. */
    static final List<String> NAMES = List.of("flat", "lucene", "hnswlib", "attention", "attention-online");

    /** A class of each library an index kind needs, to tell a trimmed class path before a build fails half-way. */
    private static final Map<IndexKind, String> LIBRARY = Map.of(IndexKind.LUCENE, "org.apache.lucene.index.IndexWriter",
            IndexKind.HNSWLIB, "com.github.jelmerk.hnswlib.core.hnsw.HnswIndex");

    /** Keys added online between two batches of their positions' training queries. */
    static final int ONLINE_QUERY_BATCH = 1024;

    /** Keys per addAll call. */
    static final int ADD_BATCH = 8192;

    private IndexFactories() {
    }

    static Map<String, IndexFactory> all() {
        Map<String, IndexFactory> m = new LinkedHashMap<>();
        m.put("flat", new ByKind(IndexKind.FLAT));
        m.put("lucene", new ByKind(IndexKind.LUCENE));
        m.put("hnswlib", new ByKind(IndexKind.HNSWLIB));
        m.put("attention", new Attention("attention", false));
        m.put("attention-online", new Attention("attention-online", true));
        return m;
    }

    static IndexFactory get(String name) {
        IndexFactory f = all().get(name);
        if (f == null) {
            throw new IllegalArgumentException("unknown index '" + name + "'; choose from " + NAMES);
        }
        return f;
    }

    /** Adds key rows [0, n) of {@code keys} under ids 0..n-1, {@link #ADD_BATCH} at a time. */
    static void addKeys(VectorIndex index, VectorStore keys) {
        int n = keys.size();
        for (int from = 0; from < n; from += ADD_BATCH) {
            int to = Math.min(n, from + ADD_BATCH);
            long[] ids = new long[to - from];
            float[][] rows = new float[to - from][];
            for (int i = from; i < to; i++) {
                ids[i - from] = i;
                rows[i - from] = keys.row(i);
            }
            index.addAll(ids, rows);
        }
    }

    /** An index the factory builds by kind, keys under ids 0..n-1. */
    static final class ByKind implements IndexFactory {
        private final IndexKind kind;
        /** A class of the library the kind needs (null: none beyond the engine). */
        private final String library;

        ByKind(IndexKind kind) {
            this(kind, LIBRARY.get(kind));
        }

        ByKind(IndexKind kind, String library) {
            this.kind = kind;
            this.library = library;
        }

        @Override
        public String name() {
            return kind.id();
        }

        @Override
        public boolean usesBudget() {
            return kind != IndexKind.FLAT; // an exact index spends every key whatever the budget
        }

        @Override
        public String unavailableReason() {
            try {
                if (library != null) {
                    Class.forName(library, false, IndexFactories.class.getClassLoader());
                }
                return null;
            } catch (ClassNotFoundException | LinkageError e) {
                return library + " is not on the class path (" + e.getClass().getSimpleName() + ")";
            }
        }

        @Override
        public VectorIndex build(KvWorkload w, Context context) throws Exception {
            VectorIndexes.Options options = VectorIndexes.Options.defaults().withScorer(context.scorer()).withExpectedSize(w.size());
            if (kind == IndexKind.LUCENE) { // in an MMapDirectory under the scratch folder
                options = options.withDirectory(Files.createTempDirectory(context.tempDir(), "lucene"));
            }
            VectorIndex index = VectorIndexes.create(kind, w.dim(), Similarity.DOT_PRODUCT, options);
            addKeys(index, w.keys());
            return index;
        }
    }

    /**
     * {@link AttentionAwareIndex#build} with {@code Params.defaults()} training on every query given (at most
     * {@link IndexFactory.Context#trainingQueries}, evenly spaced), keys under ids 0..n-1. Online ({@code
     * attention-online}): built over the first {@code n - m} keys from the training queries of those positions
     * ({@code m = min(Context#onlineKeys, n / 2)}), then the last {@code m} keys added one by one, and after every
     * {@link #ONLINE_QUERY_BATCH} of them the queries of their positions through {@code addQueries}, as decoding adds the
     * tokens that leave the recent window; its recall against {@code attention} is what growing online costs.
     */
    static final class Attention implements IndexFactory {
        private final String name;
        private final boolean online;

        Attention(String name, boolean online) {
            this.name = name;
            this.online = online;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public boolean usesBudget() {
            return true;
        }

        @Override
        public String unavailableReason() {
            return null;
        }

        @Override
        public VectorIndex build(KvWorkload w, Context context) {
            // Every training query the workload offers (--train chooses how many), not a session's share of them.
            AttentionAwareIndex.Params params = AttentionAwareIndex.Params.defaults().withTrainingQueriesPerKey(0);
            int n = w.size();
            int added = online ? Math.min(context.onlineKeys(), n / 2) : 0;
            int built = n - added;
            // Training queries of the built positions only: those after them do not exist yet.
            int trainRows = (int) ((long) w.trainingQueries().size() * built / n);
            float[][] training = sampleRows(w.trainingQueries(), trainRows,
                    (int) ((long) context.trainingQueries() * built / n));
            // One line per tenth of the build (training queries projected, then keys linked).
            long buildStart = System.nanoTime();
            int[] shown = {0};
            BiConsumer<Integer, Integer> progress = (done, total) -> {
                int tenth = (int) (10L * done / Math.max(1, total));
                if (tenth > shown[0]) {
                    shown[0] = tenth;
                    context.log().printf("[index]   %s build %d%% (%d of %d steps: queries projected, then keys linked), %.1f s%n",
                            name, 10 * tenth, done, total, (System.nanoTime() - buildStart) / 1e9);
                }
            };
            // Over the workload's store, as a KV session builds over its keys: rows read where they are (a float16
            // store stays float16), ids are positions.
            AttentionAwareIndex index = AttentionAwareIndex.build(params, w.keys(), 0, built, training, context.scorer(), progress);
            if (added > 0) {
                // As decoding does: keys arrive one by one, and the queries of their positions
                // follow in batches (each batch's exact neighbours come from the scorer).
                long start = System.nanoTime();
                int total = w.trainingQueries().size();
                for (int from = built; from < n; from += ONLINE_QUERY_BATCH) {
                    int to = Math.min(n, from + ONLINE_QUERY_BATCH);
                    index.addStoredRows(to);
                    int q0 = (int) ((long) total * from / n);
                    int q1 = (int) ((long) total * to / n);
                    int want = (int) ((long) context.trainingQueries() * (to - from) / n);
                    float[][] queries = new float[Math.min(q1 - q0, Math.max(1, want))][];
                    for (int j = 0; j < queries.length; j++) {
                        queries[j] = w.trainingQueries().row(q0 + (int) ((long) j * (q1 - q0) / queries.length));
                    }
                    if (queries.length > 0) {
                        index.addQueries(queries, context.scorer());
                    }
                }
                context.log().printf("[index]   %s: %d keys added online, with their positions' queries, in %.1f s"
                        + " (%.0f us per key)%n", name, added, (System.nanoTime() - start) / 1e9,
                        (System.nanoTime() - start) / 1e3 / added);
            }
            return index;
        }
    }

    /** At most {@code max} rows of {@code store}, evenly spaced. */
    static float[][] sampleRows(VectorStore store, int max) {
        return sampleRows(store, store.size(), max);
    }

    /** At most {@code max} of the first {@code n} rows of {@code store}, evenly spaced. */
    static float[][] sampleRows(VectorStore store, int n, int max) {
        int m = Math.min(n, Math.max(0, max));
        float[][] out = new float[m][];
        for (int i = 0; i < m; i++) {
            out[i] = store.row((int) ((long) i * n / m));
        }
        return out;
    }
}
