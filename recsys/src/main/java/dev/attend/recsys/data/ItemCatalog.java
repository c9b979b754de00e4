package dev.attend.recsys.data;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The items and categories a model was trained on ({@link UserSequences#catalog()}): source ids to the model's dense ids (0 for an unknown id: a
 * zero embedding, the cold-start row), each item's category and how often it occurred in training. Saved with
 * the model, so that a served model reads requests in source ids.
 */
public final class ItemCatalog {

    private final long[] itemIds; // dense -> source, [0] = -1
    private final int[] itemCategory; // dense item -> dense category
    private final long[] categoryIds; // dense -> source, [0] = -1
    private final long[] counts; // dense item -> behaviours in training
    private final Map<Long, Integer> itemIndex = new HashMap<>();
    private final Map<Long, Integer> categoryIndex = new HashMap<>();

    /** Dense to source ids ({@code [0]} unused), each item's dense category and its count in the data. */
    ItemCatalog(long[] itemIds, int[] itemCategory, long[] categoryIds, long[] counts) {
        if (itemIds.length != itemCategory.length || itemIds.length != counts.length || itemIds.length == 0 || categoryIds.length == 0) {
            throw new IllegalArgumentException("inconsistent catalog arrays");
        }
        this.itemIds = itemIds;
        this.itemCategory = itemCategory;
        this.categoryIds = categoryIds;
        this.counts = counts;
        for (int i = 1; i < itemIds.length; i++) {
            if (itemCategory[i] < 0 || itemCategory[i] >= categoryIds.length) {
                throw new IllegalArgumentException("item " + itemIds[i] + " has category index " + itemCategory[i] + " out of range");
            }
            itemIndex.put(itemIds[i], i);
        }
        for (int c = 1; c < categoryIds.length; c++) {
            categoryIndex.put(categoryIds[c], c);
        }
    }

    /** Dense item ids run from 1 to {@code items()}. */
    public int items() {
        return itemIds.length - 1;
    }

    /** Dense category ids run from 1 to {@code categories()}. */
    public int categories() {
        return categoryIds.length - 1;
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
        return itemIds[item];
    }

    public long categoryId(int category) {
        return categoryIds[category];
    }

    /** The dense category of a dense item (0 for the unknown item). */
    public int categoryOf(int item) {
        return itemCategory[item];
    }

    /** Behaviours on a dense item in training. */
    public long count(int item) {
        return counts[item];
    }

    /** Behaviours on each dense item ({@code [0]} is 0), a copy. */
    public long[] counts() {
        return counts.clone();
    }

    /** The {@code n} most frequent dense items, most frequent first (ties: the smaller id). */
    public int[] mostPopular(int n) {
        Integer[] order = new Integer[items()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i + 1;
        }
        Arrays.sort(order, (a, b) -> counts[a] != counts[b] ? Long.compare(counts[b], counts[a]) : Integer.compare(a, b));
        return Arrays.stream(order, 0, Math.min(n, order.length)).mapToInt(Integer::intValue).toArray();
    }

    public void write(DataOutputStream out) throws IOException {
        out.writeInt(itemIds.length);
        for (int i = 0; i < itemIds.length; i++) {
            out.writeLong(itemIds[i]);
            out.writeInt(itemCategory[i]);
            out.writeLong(counts[i]);
        }
        out.writeInt(categoryIds.length);
        for (long c : categoryIds) {
            out.writeLong(c);
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
