package dev.attend.index.graph;

import java.util.Arrays;

/**
 * Candidate neighbours gathered per node during projection, before they are merged and pruned:
 * one growable int list per node that has any, and the total count (to bound memory).
 */
final class CandidateLists {

    private final int[][] lists;
    private final int[] sizes;
    private int[] touched = new int[64];
    private int touchedCount;
    private long entries;

    CandidateLists(int nodes) {
        this.lists = new int[nodes][];
        this.sizes = new int[nodes];
    }

    /** Appends the first {@code count} of {@code values} to {@code node}'s list. */
    void add(int node, int[] values, int count) {
        int[] list = lists[node];
        int size = sizes[node];
        if (list == null) {
            list = new int[Math.max(count, 16)];
            if (touchedCount == touched.length) {
                touched = Arrays.copyOf(touched, touchedCount * 2);
            }
            touched[touchedCount++] = node;
        } else if (size + count > list.length) {
            list = Arrays.copyOf(list, Math.max(size + count, list.length * 2));
        }
        System.arraycopy(values, 0, list, size, count);
        lists[node] = list;
        sizes[node] = size + count;
        entries += count;
    }

    /** Nodes with a list, in the order they first got one. */
    int[] nodes() {
        return Arrays.copyOf(touched, touchedCount);
    }

    /** {@code node}'s list; its first {@link #size} values are in use. */
    int[] list(int node) {
        int[] list = lists[node];
        return list == null ? new int[0] : list;
    }

    int size(int node) {
        return sizes[node];
    }

    /** Values held in all lists. */
    long entries() {
        return entries;
    }

    /**
     * At most {@code cap} distinct values of {@code node}'s list: the most frequent, ties (and all of them when there are
     * no more than {@code cap}) in first-seen order. {@code counts} is scratch with a slot per node, all zero on entry and
     * again on return: counting beats sorting lists that repeat most values.
     */
    int[] mostFrequent(int node, int cap, int[] counts) {
        int[] list = lists[node];
        int size = sizes[node];
        int[] out = new int[Math.min(size, counts.length)];
        int kept = 0;
        for (int i = 0; i < size; i++) {
            int v = list[i];
            if (counts[v]++ == 0) {
                out[kept++] = v;
            }
        }
        int[] chosen;
        if (kept > cap) {
            long[] byCount = new long[kept];
            for (int i = 0; i < kept; i++) {
                byCount[i] = ((long) -counts[out[i]] << 32) | i;
            }
            Arrays.sort(byCount);
            chosen = new int[cap];
            for (int i = 0; i < cap; i++) {
                chosen[i] = out[(int) byCount[i]];
            }
        } else {
            chosen = kept == out.length ? out : Arrays.copyOf(out, kept);
        }
        for (int i = 0; i < kept; i++) {
            counts[out[i]] = 0;
        }
        return chosen;
    }

    /**
     * Drops repeated values within each list (queries near each other share most of their keys); returns {@link #entries}.
     * The counts of {@link #mostFrequent} start again from one per value.
     */
    long compact() {
        entries = 0;
        int[] counts = new int[lists.length];
        for (int t = 0; t < touchedCount; t++) {
            int node = touched[t];
            int[] kept = mostFrequent(node, Integer.MAX_VALUE, counts);
            lists[node] = kept;
            sizes[node] = kept.length;
            entries += kept.length;
        }
        return entries;
    }

    void clear() {
        for (int i = 0; i < touchedCount; i++) {
            lists[touched[i]] = null;
            sizes[touched[i]] = 0;
        }
        touchedCount = 0;
        entries = 0;
    }
}
