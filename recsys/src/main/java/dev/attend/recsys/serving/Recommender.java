package dev.attend.recsys.serving;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.VectorStore;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.factory.IndexKind;
import dev.attend.index.factory.VectorIndexes;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.model.SequenceModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Serves a trained long-sequence model: click probabilities of candidates after a user's stored behaviours
 * ({@link #score}), the top items for a user ({@link #recommend}) and why an item scored as it did
 * ({@link #explain}). Requests speak source ids; the {@link ItemCatalog} maps them to the model's.
 *
 * <p><b>Search.</b> A user's last {@code historyLength} behaviours are the history; their attention keys are
 * built once per version of the user's sequence and kept in a cache bounded in bytes, so a repeated request
 * pays only the search (one top-K call of every candidate on the {@link Scorer}) and the batched MLP.
 *
 * <p><b>Candidates.</b> {@link #recommend} without candidates searches an index of every item's attention
 * embedding ([item; category] rows, exact below {@value #EXACT_INDEX_ITEMS} items, HNSW above) with the sum of
 * the attention keys of the user's last {@code recentBehaviours}: the items whose search would weigh the user's
 * recent behaviours most; then scores them with the model.
 *
 * <p><b>Cold start.</b> An item the model has not seen scores from zero embeddings (row 0 of each table) with its
 * category's embedding when the category is known; unseen behaviours in a history are zero keys that rarely win
 * the search. A user with no stored behaviours gets the catalog's most popular items, scored by the model from
 * the candidates' own embeddings (an empty history gives {@code h = 0}).
 */
public final class Recommender implements AutoCloseable {

    /** Catalogs up to this size are searched exactly for candidates. */
    static final int EXACT_INDEX_ITEMS = 20_000;

    /**
     * @param historyLength    the latest behaviours of a user the search scans
     * @param candidates       items taken from the index (or by popularity) before scoring, for {@link #recommend}
     * @param recentBehaviours the latest behaviours whose attention keys form the index query
     * @param cacheBytes       bytes of attention keys kept for recent users
     */
    public record Options(int historyLength, int candidates, int recentBehaviours, long cacheBytes) {

        public Options {
            if (historyLength < 1 || candidates < 1 || recentBehaviours < 1 || cacheBytes < 0) {
                throw new IllegalArgumentException("historyLength, candidates and recentBehaviours must be >= 1, cacheBytes >= 0");
            }
        }

        /** The whole stored history (up to 10^5), 1,000 candidates, the last 50 behaviours as query, 256 MiB of keys. */
        public static Options defaults() {
            return new Options(BehaviorSequenceStore.DEFAULT_MAX_PER_USER, 1_000, 50, 256L << 20);
        }

        public Options withHistoryLength(int n) {
            return new Options(n, candidates, recentBehaviours, cacheBytes);
        }

        public Options withCandidates(int n) {
            return new Options(historyLength, n, recentBehaviours, cacheBytes);
        }
    }

    /** A candidate's click probability ({@code known}: whether the model has seen the item). */
    public record Scored(long item, long category, float probability, boolean known) {
    }

    /** A behaviour the search kept, with its softmax weight; {@code position} indexes the user's stored sequence. */
    public record Behavior(int position, long item, long category, String action, long time, float weight) {
    }

    /** Why an item scored as it did: the behaviours its search kept, heaviest first. */
    public record Explanation(Scored scored, int historyLength, List<Behavior> behaviors) {
    }

    private final SequenceModel model;
    private final ItemCatalog catalog;
    private final SequenceSource store;
    private final Scorer scorer;
    private final Options options;
    private VectorIndex items; // built on first use, or by prepareCandidates()
    private final Map<Long, History> cache = new LinkedHashMap<>(16, 0.75f, true);
    private long cachedBytes;

    public Recommender(SequenceModel model, ItemCatalog catalog, SequenceSource store, Scorer scorer, Options options) {
        this.model = model;
        this.catalog = catalog;
        this.store = store;
        this.scorer = scorer;
        this.options = options;
    }

    /**
     * Builds the item index that {@link #recommend} takes candidates from, if not built yet (a server calls it at
     * start, so that the first request does not pay for it).
     */
    public synchronized VectorIndex prepareCandidates() {
        if (items == null) {
            items = itemIndex(model, catalog, scorer);
        }
        return items;
    }

    public SequenceModel model() {
        return model;
    }

    public ItemCatalog catalog() {
        return catalog;
    }

    public SequenceSource store() {
        return store;
    }

    public Options options() {
        return options;
    }

    /**
     * Click probabilities of {@code itemIds} after the user's stored behaviours, in request order.
     * {@code categoryIds} may be null (each item's catalog category) or give each candidate's category (a new item's
     * category lets the model score it from its category's embedding).
     */
    public List<Scored> score(long user, long[] itemIds, long[] categoryIds) {
        if (categoryIds != null && categoryIds.length != itemIds.length) {
            throw new IllegalArgumentException("categories (" + categoryIds.length + ") must match items (" + itemIds.length + ")");
        }
        int[] ci = new int[itemIds.length];
        int[] cc = new int[itemIds.length];
        for (int i = 0; i < itemIds.length; i++) {
            ci[i] = catalog.itemIndex(itemIds[i]);
            cc[i] = categoryIds != null ? catalog.categoryIndex(categoryIds[i]) : catalog.categoryOf(ci[i]);
        }
        History h = history(user);
        SequenceModel.Scores s = model.score(h.items, h.categories, h.keys, ci, cc, scorer);
        List<Scored> out = new ArrayList<>(itemIds.length);
        for (int i = 0; i < itemIds.length; i++) {
            long category = categoryIds != null ? categoryIds[i] : cc[i] == 0 ? -1 : catalog.categoryId(cc[i]);
            out.add(new Scored(itemIds[i], category, sigmoid(s.logits()[i]), ci[i] != 0));
        }
        return out;
    }

    /**
     * The {@code n} items of highest click probability for the user among {@link Options#candidates} taken from the
     * item index (or by popularity for a user with no behaviours), best first; items the user already has are left
     * out when {@code excludeSeen}.
     */
    public List<Scored> recommend(long user, int n, boolean excludeSeen) {
        if (n < 1) {
            throw new IllegalArgumentException("n must be >= 1, got " + n);
        }
        History h = history(user);
        Set<Integer> seen = new HashSet<>();
        if (excludeSeen) {
            for (int item : h.items) {
                seen.add(item);
            }
        }
        int want = Math.min(catalog.items(), options.candidates() + seen.size());
        int[] found;
        if (h.items.length == 0) {
            found = catalog.mostPopular(want);
        } else {
            SearchResult r = prepareCandidates().search(userQuery(h), Math.max(1, want), Math.max(want, 10 * want));
            found = Arrays.stream(r.ids()).mapToInt(id -> (int) id).toArray();
        }
        int[] ci = Arrays.stream(found).filter(i -> !seen.contains(i)).limit(options.candidates()).toArray();
        int[] cc = Arrays.stream(ci).map(catalog::categoryOf).toArray();
        SequenceModel.Scores s = model.score(h.items, h.categories, h.keys, ci, cc, scorer);
        Integer[] order = new Integer[ci.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(s.logits()[b], s.logits()[a]));
        List<Scored> out = new ArrayList<>();
        for (int r = 0; r < Math.min(n, order.length); r++) {
            int i = order[r];
            out.add(new Scored(catalog.itemId(ci[i]), catalog.categoryId(cc[i]), sigmoid(s.logits()[i]), true));
        }
        return out;
    }

    /** The score of one item for the user and the behaviours its search kept with their weights. */
    public Explanation explain(long user, long itemId, Long categoryId) {
        int item = catalog.itemIndex(itemId);
        int category = categoryId != null ? catalog.categoryIndex(categoryId) : catalog.categoryOf(item);
        History h = history(user);
        SequenceModel.Scores s = model.score(h.items, h.categories, h.keys, new int[] {item}, new int[] {category}, scorer);
        List<Behavior> kept = new ArrayList<>();
        int[] selected = s.selected()[0];
        float[] weights = s.weights()[0];
        Integer[] order = new Integer[selected.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(weights[b], weights[a]));
        BehaviorSequence seq = h.sequence;
        for (int i : order) {
            int at = h.offset + selected[i];
            kept.add(new Behavior(at, seq.items()[at], seq.categories()[at], seq.actions()[at], seq.times()[at], weights[i]));
        }
        long category0 = categoryId != null ? categoryId : category == 0 ? -1 : catalog.categoryId(category);
        return new Explanation(new Scored(itemId, category0, sigmoid(s.logits()[0]), item != 0), h.items.length, kept);
    }

    @Override
    public synchronized void close() {
        if (items != null) {
            items.close();
        }
    }

    /** A user's history as the model reads it, valid while the sequence and the model's weights stay at these versions. */
    private record History(long version, long weights, BehaviorSequence sequence, int offset, int[] items, int[] categories,
                           VectorStore keys) {

        /** What the entry holds: the keys' arrays, the ids, and the sequence's item, category and time columns. */
        long bytes() {
            return keys.bytes() + 8L * items.length + 24L * sequence.items().length;
        }
    }

    private History history(long user) {
        long version = store.version(user);
        long weights = model.weightsVersion(); // read before the keys are built: a step during the build leaves them stale
        synchronized (cache) {
            History h = cache.get(user);
            if (h != null && h.version == version && h.weights == weights) {
                return h;
            }
        }
        BehaviorSequence seq = store.get(user);
        int offset = Math.max(0, seq.length() - options.historyLength());
        int n = seq.length() - offset;
        int[] hi = new int[n];
        int[] hc = new int[n];
        for (int j = 0; j < n; j++) {
            hi[j] = catalog.itemIndex(seq.items()[offset + j]);
            hc[j] = catalog.categoryIndex(seq.categories()[offset + j]);
        }
        History h = new History(seq.version(), weights, seq, offset, hi, hc, model.attentionKeys(hi, hc));
        synchronized (cache) {
            History old = cache.put(user, h);
            cachedBytes += h.bytes() - (old == null ? 0 : old.bytes());
            var it = cache.entrySet().iterator();
            while (cachedBytes > options.cacheBytes() && it.hasNext()) {
                History evicted = it.next().getValue();
                it.remove();
                cachedBytes -= evicted.bytes();
            }
        }
        return h;
    }

    /** The sum of the attention keys of the user's latest behaviours: the item index's query. */
    private float[] userQuery(History h) {
        int dim = h.keys.dim();
        float[] q = new float[dim];
        float[] row = new float[dim];
        for (int j = Math.max(0, h.items.length - options.recentBehaviours()); j < h.items.length; j++) {
            h.keys.readRow(j, row);
            for (int c = 0; c < dim; c++) {
                q[c] += row[c];
            }
        }
        return q;
    }

    private static VectorIndex itemIndex(SequenceModel model, ItemCatalog catalog, Scorer scorer) {
        int n = catalog.items();
        int[] ids = new int[n];
        int[] cats = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i + 1;
            cats[i] = catalog.categoryOf(i + 1);
        }
        VectorStore keys = model.targetKeys(ids, cats);
        int dim = keys.dim();
        IndexKind kind = n <= EXACT_INDEX_ITEMS ? IndexKind.FLAT : IndexKind.HNSWLIB;
        VectorIndex index = VectorIndexes.create(kind, dim, Similarity.DOT_PRODUCT,
                VectorIndexes.Options.defaults().withScorer(scorer).withExpectedSize(n));
        long[] rawIds = new long[n];
        float[][] vectors = new float[n][];
        for (int i = 0; i < n; i++) {
            rawIds[i] = i + 1;
            vectors[i] = new float[dim];
            keys.readRow(i, vectors[i]);
        }
        index.addAll(rawIds, vectors);
        return index;
    }

    private static float sigmoid(float logit) {
        return (float) (1 / (1 + Math.exp(-logit)));
    }
}
