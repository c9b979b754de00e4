package dev.attend.recsys.data;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The items and categories a model was trained on ({@link UserSequences#catalog()}): source ids to the model's dense ids (0 for an unknown id: a
 * zero embedding, the cold-start row), each item's category and how often it occurred in training. Saved with
 * the model, so that a served model reads requests in source ids. Grows online ({@link #learn}) as new items
 * and categories arrive.
 */
public final class ItemCatalog {

    /**
     * What readers see: the arrays and how much of them is in use. Replaced (never changed in a way a reader could
     * see half of) when {@link #learn} adds an item or category; counts grow in place.
     */
    private record Entries(long[] itemIds, int[] itemCategory, long[] counts, int items, long[] categoryIds, int categories) {
    }

    /** Makes room for dense ids up to {@code items} and {@code categories} (a model's embedding rows). */
    @FunctionalInterface
    public interface RowsNeeded {
        void ensure(int items, int categories);
    }

    private volatile Entries entries;
    private final Map<Long, Integer> itemIndex = new ConcurrentHashMap<>();
    private final Map<Long, Integer> categoryIndex = new ConcurrentHashMap<>();

    /** Dense to source ids ({@code [0]} unused), each item's dense category and its count in the data. */
    ItemCatalog(long[] itemIds, int[] itemCategory, long[] categoryIds, long[] counts) {
        if (itemIds.length != itemCategory.length || itemIds.length != counts.length || itemIds.length == 0 || categoryIds.length == 0) {
            throw new IllegalArgumentException("inconsistent catalog arrays");
        }
        for (int i = 1; i < itemIds.length; i++) {
            if (itemCategory[i] < 0 || itemCategory[i] >= categoryIds.length) {
                throw new IllegalArgumentException("item " + itemIds[i] + " has category index " + itemCategory[i] + " out of range");
            }
            itemIndex.put(itemIds[i], i);
        }
        for (int c = 1; c < categoryIds.length; c++) {
            categoryIndex.put(categoryIds[c], c);
        }
        this.entries = new Entries(itemIds, itemCategory, counts, itemIds.length - 1, categoryIds, categoryIds.length - 1);
    }

    /** Dense item ids run from 1 to {@code items()}. */
    public int items() {
        return entries.items;
    }

    /** Dense category ids run from 1 to {@code categories()}. */
    public int categories() {
        return entries.categories;
    }

    /** The dense id of a source item id, 0 when the model has not seen it. */
    public int itemIndex(long itemId) {
        return itemIndex.getOrDefault(itemId, 0);
    }

    /** The dense id of a source category id, 0 when the model has not seen it. */
    public int categoryIndex(long categoryId) {
        return categoryIndex.getOrDefault(categoryId, 0);
    }

    public long itemId(int item) {
        return entries.itemIds[item];
    }

    public long categoryId(int category) {
        return entries.categoryIds[category];
    }

    /** The dense category of a dense item (0 for the unknown item). */
    public int categoryOf(int item) {
        return entries.itemCategory[item];
    }

    /** Behaviours on a dense item in training (and since, for items {@link #learn}ed online). */
    public long count(int item) {
        return entries.counts[item];
    }

    /** Behaviours on each dense item ({@code [0]} is 0), a copy. */
    public long[] counts() {
        Entries e = entries;
        return Arrays.copyOf(e.counts, e.items + 1);
    }

    /**
     * Learns a behaviour on {@code itemId} of {@code categoryId} online: counts it, and gives an item or category
     * never seen before the next dense id (an item keeps the category it was first seen with). Returns the item's
     * dense id. A model serving this catalog must have rows for the new ids before a reader can find them (see
     * {@code SequenceModel.ensureRows}): the ids are published last, so a reader that finds one sees them.
     * One writer at a time (synchronised); readers need no lock. {@code beforePublish} is told the dense ids that
     * are about to exist, before any reader can see them.
     */
    public synchronized int learn(long itemId, long categoryId, RowsNeeded beforePublish) {
        Entries e = entries;
        Integer known = itemIndex.get(itemId);
        if (known != null) {
            e.counts[known]++;
            return known;
        }
        Integer cat = categoryIndex.get(categoryId);
        int category = cat != null ? cat : e.categories + 1;
        int item = e.items + 1;
        long[] categoryIds = e.categoryIds;
        if (cat == null && category >= categoryIds.length) {
            categoryIds = Arrays.copyOf(categoryIds, 2 * categoryIds.length);
        }
        if (cat == null) {
            categoryIds[category] = categoryId;
        }
        long[] itemIds = e.itemIds;
        int[] itemCategory = e.itemCategory;
        long[] counts = e.counts;
        if (item >= itemIds.length) {
            itemIds = Arrays.copyOf(itemIds, 2 * itemIds.length);
            itemCategory = Arrays.copyOf(itemCategory, 2 * itemCategory.length);
            counts = Arrays.copyOf(counts, 2 * counts.length);
        }
        itemIds[item] = itemId;
        itemCategory[item] = category;
        counts[item] = 1;
        int categories = cat == null ? category : e.categories;
        beforePublish.ensure(item, categories);
        entries = new Entries(itemIds, itemCategory, counts, item, categoryIds, categories);
        if (cat == null) {
            categoryIndex.put(categoryId, category);
        }
        itemIndex.put(itemId, item);
        return item;
    }

    /** The {@code n} most frequent dense items, most frequent first (ties: the smaller id). */
    public int[] mostPopular(int n) {
        Entries e = entries;
        long[] counts = e.counts;
        Integer[] order = new Integer[e.items];
        for (int i = 0; i < order.length; i++) {
            order[i] = i + 1;
        }
        Arrays.sort(order, (a, b) -> counts[a] != counts[b] ? Long.compare(counts[b], counts[a]) : Integer.compare(a, b));
        return Arrays.stream(order, 0, Math.min(n, order.length)).mapToInt(Integer::intValue).toArray();
    }

    public synchronized void write(DataOutputStream out) throws IOException {
        Entries e = entries;
        out.writeInt(e.items + 1);
        for (int i = 0; i <= e.items; i++) {
            out.writeLong(e.itemIds[i]);
            out.writeInt(e.itemCategory[i]);
            out.writeLong(e.counts[i]);
        }
        out.writeInt(e.categories + 1);
        for (int c = 0; c <= e.categories; c++) {
            out.writeLong(e.categoryIds[c]);
        }
    }

    public static ItemCatalog read(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 1) {
            throw new IOException("bad item catalog: " + n + " items");
        }
        long[] items = new long[n];
        int[] categories = new int[n];
        long[] counts = new long[n];
        for (int i = 0; i < n; i++) {
            items[i] = in.readLong();
            categories[i] = in.readInt();
            counts[i] = in.readLong();
        }
        int m = in.readInt();
        if (m < 1) {
            throw new IOException("bad item catalog: " + m + " categories");
        }
        long[] cats = new long[m];
        for (int c = 0; c < m; c++) {
            cats[c] = in.readLong();
        }
        try {
            return new ItemCatalog(items, categories, cats, counts);
        } catch (IllegalArgumentException e) {
            throw new IOException("bad item catalog: " + e.getMessage(), e);
        }
    }
}
