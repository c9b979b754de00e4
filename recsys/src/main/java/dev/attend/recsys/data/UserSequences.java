package dev.attend.recsys.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every user's behaviours in time order, over dense ids: items and categories are numbered from 1 in order of
 * first appearance (0 is reserved for padding and unknown ids), users from 0. Ties in time keep the input
 * order. Also the item frequencies (for negative sampling) and each item's category (its latest).
 */
public final class UserSequences {

    private final long[] userIds;
    private final int[][] items;
    private final int[][] categories;
    private final long[][] times;
    private final Map<Long, Integer> userIndex;
    private final ItemCatalog catalog;

    /** {@code itemRawIds}/{@code categoryRawIds}: dense to source ids ({@code [0]} unused); {@code itemCategory}: dense to dense. */
    private UserSequences(long[] userIds, int[][] items, int[][] categories, long[][] times, Map<Long, Integer> userIndex,
                          long[] itemRawIds, int[] itemCategory, long[] categoryRawIds) {
        this.userIds = userIds;
        this.items = items;
        this.categories = categories;
        this.times = times;
        this.userIndex = userIndex;
        long[] itemCount = new long[itemRawIds.length];
        for (int[] seq : items) {
            for (int item : seq) {
                itemCount[item]++;
            }
        }
        this.catalog = new ItemCatalog(itemRawIds, itemCategory, categoryRawIds, itemCount);
    }

    /** Groups {@code events} by user and orders each user's by time. */
    public static UserSequences of(List<BehaviorEvent> events) {
        Map<Long, Integer> users = new HashMap<>();
        Map<Long, Integer> itemIds = new HashMap<>();
        Map<Long, Integer> categoryIds = new HashMap<>();
        List<Long> itemRaw = new ArrayList<>();
        itemRaw.add(-1L);
        List<List<BehaviorEvent>> perUser = new ArrayList<>();
        for (BehaviorEvent e : events) {
            int u = users.computeIfAbsent(e.user(), k -> {
                perUser.add(new ArrayList<>());
                return perUser.size() - 1;
            });
            perUser.get(u).add(e);
            itemIds.computeIfAbsent(e.item(), k -> {
                itemRaw.add(k);
                return itemRaw.size() - 1;
            });
            categoryIds.computeIfAbsent(e.category(), k -> categoryIds.size() + 1);
        }
        int users0 = perUser.size();
        long[] userIds = new long[users0];
        users.forEach((raw, u) -> userIds[u] = raw);
        int[][] items = new int[users0][];
        int[][] categories = new int[users0][];
        long[][] times = new long[users0][];
        int[] itemCategory = new int[itemRaw.size()];
        long[] latest = new long[itemRaw.size()];
        Arrays.fill(latest, Long.MIN_VALUE);
        for (int u = 0; u < users0; u++) {
            List<BehaviorEvent> list = new ArrayList<>(perUser.get(u));
            list.sort(Comparator.comparingLong(BehaviorEvent::time)); // stable: ties keep input order
            items[u] = new int[list.size()];
            categories[u] = new int[list.size()];
            times[u] = new long[list.size()];
            for (int i = 0; i < list.size(); i++) {
                BehaviorEvent e = list.get(i);
                int item = itemIds.get(e.item());
                int category = categoryIds.get(e.category());
                items[u][i] = item;
                categories[u][i] = category;
                times[u][i] = e.time();
                if (e.time() >= latest[item]) {
                    latest[item] = e.time();
                    itemCategory[item] = category;
                }
            }
        }
        long[] raw = itemRaw.stream().mapToLong(Long::longValue).toArray();
        long[] categoryRaw = new long[categoryIds.size() + 1];
        categoryRaw[0] = -1;
        categoryIds.forEach((id, dense) -> categoryRaw[dense] = id);
        return new UserSequences(userIds, items, categories, times, Map.copyOf(users), raw, itemCategory, categoryRaw);
    }

    /**
     * Sequences already over dense ids (items {@code 1..itemCategories.length - 1} with their categories
     * {@code itemCategories[item]} in {@code 1..categoryCount}; a user's times ascending), as a generator makes
     * them: source ids are the dense ids, users are numbered from 0.
     */
    public static UserSequences ofDense(int[][] items, long[][] times, int[] itemCategories, int categoryCount) {
        int itemCount = itemCategories.length - 1;
        int[][] categories = new int[items.length][];
        for (int u = 0; u < items.length; u++) {
            categories[u] = new int[items[u].length];
            for (int j = 0; j < items[u].length; j++) {
                int item = items[u][j];
                if (item < 1 || item > itemCount) {
                    throw new IllegalArgumentException("user " + u + " behaviour " + j + ": item " + item + " out of [1, " + itemCount + "]");
                }
                categories[u][j] = itemCategories[item];
            }
        }
        int users = items.length;
        long[] userIds = new long[users];
        Map<Long, Integer> userIndex = new HashMap<>();
        for (int u = 0; u < users; u++) {
            userIds[u] = u;
            userIndex.put((long) u, u);
            if (times[u].length != items[u].length) {
                throw new IllegalArgumentException("user " + u + ": items and times differ in length");
            }
        }
        long[] raw = new long[itemCount + 1];
        for (int i = 0; i <= itemCount; i++) {
            raw[i] = i == 0 ? -1 : i;
        }
        long[] categoryRaw = new long[categoryCount + 1];
        for (int c = 0; c <= categoryCount; c++) {
            categoryRaw[c] = c == 0 ? -1 : c;
        }
        for (int i = 1; i <= itemCount; i++) {
            if (itemCategories[i] < 1 || itemCategories[i] > categoryCount) {
                throw new IllegalArgumentException("item " + i + ": category " + itemCategories[i] + " out of [1, " + categoryCount + "]");
            }
        }
        int[] itemCategory = itemCategories.clone();
        itemCategory[0] = 0;
        return new UserSequences(userIds, items, categories, times, userIndex, raw, itemCategory, categoryRaw);
    }

    public int users() {
        return items.length;
    }

    /** Dense item ids run from 1 to {@code items()} inclusive. */
    public int items() {
        return catalog.items();
    }

    /** Dense category ids run from 1 to {@code categories()} inclusive. */
    public int categories() {
        return catalog.categories();
    }

    public long events() {
        long n = 0;
        for (int[] s : items) {
            n += s.length;
        }
        return n;
    }

    /** The dense index of a source user id, or -1 for a user with no behaviour. */
    public int userIndex(long userId) {
        return userIndex.getOrDefault(userId, -1);
    }

    /** The dense id of a source item id, or 0 (unknown). */
    public int itemIndex(long itemId) {
        return catalog.itemIndex(itemId);
    }

    /** The dense id of a source category id, or 0 (unknown). */
    public int categoryIndex(long categoryId) {
        return catalog.categoryIndex(categoryId);
    }

    public long userId(int user) {
        return userIds[user];
    }

    public long itemId(int item) {
        return catalog.itemId(item);
    }

    public long categoryId(int category) {
        return catalog.categoryId(category);
    }

    /** User {@code u}'s items in time order (not a copy: do not change it). */
    public int[] itemsOf(int u) {
        return items[u];
    }

    /** User {@code u}'s categories in time order (not a copy). */
    public int[] categoriesOf(int u) {
        return categories[u];
    }

    /** User {@code u}'s times in seconds, ascending (not a copy). */
    public long[] timesOf(int u) {
        return times[u];
    }

    /** The dense category of a dense item (its latest), 0 for the padding item. */
    public int categoryOf(int item) {
        return catalog.categoryOf(item);
    }

    /** Behaviours on each dense item ({@code [0]} is 0). */
    public long[] itemCounts() {
        return catalog.counts();
    }

    /** The items and categories, their ids and counts: what a model trained on this data is saved with. */
    public ItemCatalog catalog() {
        return catalog;
    }
}
