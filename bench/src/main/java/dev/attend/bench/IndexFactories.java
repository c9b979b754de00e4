package dev.attend.bench;

import dev.attend.bench.workload.KvWorkload;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorStore;
import dev.attend.index.FlatIndex;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The indexes {@link IndexBench} knows, by name: {@code flat} ({@link FlatIndex}, exact, on the gpu scorer),
 * {@code lucene} ({@code dev.attend.index.lucene.LuceneVectorIndex}, Lucene HNSW in an MMapDirectory),
 * {@code hnswlib} ({@code dev.attend.index.hnswlib.HnswlibIndex}) and {@code attention}
 * ({@code dev.attend.index.graph.AttentionAwareIndex}, built from the workload's training queries).
 *
 * <p>The last three are reached through reflection against the public API they have now (named in each
 * factory below), so that this module compiles while those classes are still being written and changed:
 * when a class or the expected method is missing, the factory's {@link IndexFactory#unavailableReason()} says
 * which, and the harness reports the index as skipped with that reason. To add an index, add a factory to
 * {@link #all()}.
 */
final class IndexFactories {

    /** Every index name, in report order. */
    static final List<String> NAMES = List.of("flat", "lucene", "hnswlib", "attention", "attention-online");

    static final String LUCENE_CLASS = "dev.attend.index.lucene.LuceneVectorIndex";
    static final String HNSWLIB_CLASS = "dev.attend.index.hnswlib.HnswlibIndex";
    static final String ATTENTION_CLASS = "dev.attend.index.graph.AttentionAwareIndex";

    /** Keys added online between two batches of their positions' training queries. */
    static final int ONLINE_QUERY_BATCH = 1024;

    /** Keys per addAll call. */
    static final int ADD_BATCH = 8192;

    private IndexFactories() {
    }

    static Map<String, IndexFactory> all() {
        Map<String, IndexFactory> m = new LinkedHashMap<>();
        m.put("flat", new Flat());
        m.put("lucene", lucene());
        m.put("hnswlib", hnswlib());
        m.put("attention", attention());
        m.put("attention-online", attentionOnline());
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

    /** Exact search on the gpu scorer. */
    static final class Flat implements IndexFactory {
        @Override
        public String name() {
            return "flat";
        }

        @Override
        public String unavailableReason() {
            return null;
        }

        @Override
        public boolean usesBudget() {
            return false;
        }

        @Override
        public VectorIndex build(KvWorkload w, Context context) {
            FlatIndex index = new FlatIndex(w.dim(), Similarity.DOT_PRODUCT, context.scorer());
            addKeys(index, w.keys());
            return index;
        }
    }

    /** What a reflective factory does once its class and methods are found. */
    @FunctionalInterface
    interface Builder {
        VectorIndex build(Class<?> type, KvWorkload w, IndexFactory.Context context) throws Exception;
    }

    /**
     * A factory for an index class that this module does not compile against: {@code requirements} are the
     * public methods it calls ("name(Type,...)" strings checked up front, so a changed API is reported as a
     * reason rather than failing half-way).
     */
    static final class Reflective implements IndexFactory {
        private final String name;
        private final String className;
        private final List<String> requirements;
        private final Builder builder;

        Reflective(String name, String className, List<String> requirements, Builder builder) {
            this.name = name;
            this.className = className;
            this.requirements = requirements;
            this.builder = builder;
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
            Class<?> type;
            try {
                type = Class.forName(className);
            } catch (ClassNotFoundException | LinkageError e) {
                return className + " is not on the class path (" + e.getClass().getSimpleName() + ")";
            }
            if (!VectorIndex.class.isAssignableFrom(type)) {
                return className + " does not implement VectorIndex";
            }
            for (String r : requirements) {
                if (!hasMethod(r)) {
                    return className + " has no public " + r + " (its API changed: update IndexFactories)";
                }
            }
            return null;
        }

        private boolean hasMethod(String signature) {
            int open = signature.indexOf('(');
            String owner = signature.substring(0, open);
            int dot = owner.lastIndexOf('.');
            String cls = dot < 0 ? className : className + "$" + owner.substring(0, dot).replace('.', '$');
            String method = dot < 0 ? owner : owner.substring(dot + 1);
            String params = signature.substring(open + 1, signature.length() - 1);
            int arity = params.isBlank() ? 0 : params.split(",").length;
            try {
                Class<?> c = Class.forName(cls);
                if (method.equals("new")) {
                    return java.util.Arrays.stream(c.getConstructors()).anyMatch(k -> k.getParameterCount() == arity);
                }
                for (Method m : c.getMethods()) {
                    if (m.getName().equals(method) && m.getParameterCount() == arity) {
                        return true;
                    }
                }
                return false;
            } catch (ClassNotFoundException | LinkageError e) {
                return false;
            }
        }

        @Override
        public VectorIndex build(KvWorkload w, Context context) throws Exception {
            String reason = unavailableReason();
            if (reason != null) {
                throw new IllegalStateException(reason);
            }
            try {
                return builder.build(Class.forName(className), w, context);
            } catch (InvocationTargetException e) {
                Throwable cause = e.getCause();
                if (cause instanceof Exception ex) {
                    throw ex;
                }
                // An Error (a class missing from a trimmed class path, memory): say which.
                throw new IllegalStateException(String.valueOf(cause), cause);
            }
        }
    }

    static Object call(Class<?> type, String method, Object target, Object... args) throws Exception {
        for (Method m : type.getMethods()) {
            if (m.getName().equals(method) && m.getParameterCount() == args.length) {
                return m.invoke(target, args);
            }
        }
        throw new NoSuchMethodException(type.getName() + "." + method + " with " + args.length + " parameters");
    }

    static Class<?> nested(Class<?> type, String simpleName) throws ClassNotFoundException {
        return Class.forName(type.getName() + "$" + simpleName);
    }

    /** Lucene HNSW in an MMapDirectory under the scratch folder: {@code create(Path, int, Similarity, Options)}, {@code Options.defaults()}. */
    static IndexFactory lucene() {
        return new Reflective("lucene", LUCENE_CLASS,
                List.of("create(Path,int,Similarity,Options)", "Options.defaults()"), (type, w, context) -> {
                    Class<?> options = nested(type, "Options");
                    Object defaults = call(options, "defaults", null);
                    Path dir = Files.createTempDirectory(context.tempDir(), "lucene");
                    Method create = type.getMethod("create", Path.class, int.class, Similarity.class, options);
                    VectorIndex index = (VectorIndex) create.invoke(null, dir, w.dim(), Similarity.DOT_PRODUCT, defaults);
                    addKeys(index, w.keys());
                    return index;
                });
    }

    /** {@code new HnswlibIndex(int, Similarity, Options)} with {@code Options.defaults()} (capacity set to the key count when it can be). */
    static IndexFactory hnswlib() {
        return new Reflective("hnswlib", HNSWLIB_CLASS, List.of("new(int,Similarity,Options)", "Options.defaults()"),
                (type, w, context) -> {
                    Class<?> options = nested(type, "Options");
                    Object o = call(options, "defaults", null);
                    try {
                        o = call(options, "withInitialCapacity", o, Math.max(1, w.size()));
                    } catch (NoSuchMethodException ignored) {
                        // defaults grow by doubling
                    }
                    VectorIndex index = (VectorIndex) type.getConstructor(int.class, Similarity.class, options)
                            .newInstance(w.dim(), Similarity.DOT_PRODUCT, o);
                    addKeys(index, w.keys());
                    return index;
                });
    }

    /**
     * {@code AttentionAwareIndex.build(int, Similarity, Params, long[], float[][], float[][], Scorer, BiConsumer)}
     * with {@code Params.defaults()} training on every query given, keys under ids 0..n-1 and the workload's training queries (at most
     * {@link IndexFactory.Context#trainingQueries}, evenly spaced).
     */
    static IndexFactory attention() {
        return attention("attention", false);
    }

    /**
     * The same index grown online: built over the first {@code n - m} keys from the training queries of
     * those positions ({@code m = min(Context#onlineKeys, n / 2)}), then the last {@code m} keys added one
     * by one through {@code add}, and after every {@link #ONLINE_QUERY_BATCH} of them the queries of their
     * positions through {@code addQueries}, as decoding adds the tokens that leave the recent window. Its
     * recall against {@code attention} (a build over all keys and queries) is what growing online costs.
     */
    static IndexFactory attentionOnline() {
        return attention("attention-online", true);
    }

    private static IndexFactory attention(String name, boolean online) {
        return new Reflective(name, ATTENTION_CLASS,
                List.of("build(int,Similarity,Params,long[],float[][],float[][],Scorer,BiConsumer)", "Params.defaults()"),
                (type, w, context) -> {
                    Class<?> params = nested(type, "Params");
                    // Every training query the workload offers (--train chooses how many), not a session's share of them.
                    Object defaults = call(params, "withTrainingQueriesPerKey", call(params, "defaults", null), 0.0);
                    int n = w.size();
                    int added = online ? Math.min(context.onlineKeys(), n / 2) : 0;
                    int built = n - added;
                    long[] ids = new long[built];
                    float[][] keys = new float[built][];
                    for (int i = 0; i < built; i++) {
                        ids[i] = i;
                        keys[i] = w.keys().row(i);
                    }
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
                    Method build = type.getMethod("build", int.class, Similarity.class, params, long[].class, float[][].class,
                            float[][].class, Scorer.class, BiConsumer.class);
                    VectorIndex index = (VectorIndex) build.invoke(null, w.dim(), Similarity.DOT_PRODUCT, defaults, ids, keys,
                            training, context.scorer(), progress);
                    if (added > 0) {
                        // As decoding does: keys arrive one by one, and the queries of their positions
                        // follow in batches (each batch's exact neighbours come from the scorer).
                        long start = System.nanoTime();
                        int total = w.trainingQueries().size();
                        for (int from = built; from < n; from += ONLINE_QUERY_BATCH) {
                            int to = Math.min(n, from + ONLINE_QUERY_BATCH);
                            for (int i = from; i < to; i++) {
                                index.add(i, w.keys().row(i));
                            }
                            int q0 = (int) ((long) total * from / n);
                            int q1 = (int) ((long) total * to / n);
                            int want = (int) ((long) context.trainingQueries() * (to - from) / n);
                            float[][] queries = new float[Math.min(q1 - q0, Math.max(1, want))][];
                            for (int j = 0; j < queries.length; j++) {
                                queries[j] = w.trainingQueries().row(q0 + (int) ((long) j * (q1 - q0) / queries.length));
                            }
                            if (queries.length > 0) {
                                call(type, "addQueries", index, queries, context.scorer());
                            }
                        }
                        context.log().printf("[index]   %s: %d keys added online, with their positions' queries, in %.1f s"
                                + " (%.0f us per key)%n", name, added, (System.nanoTime() - start) / 1e9,
                                (System.nanoTime() - start) / 1e3 / added);
                    }
                    return index;
                });
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
