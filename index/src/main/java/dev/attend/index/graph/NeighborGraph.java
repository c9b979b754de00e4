package dev.attend.index.graph;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Out-neighbour lists of a directed graph over node numbers {@code 0..size-1}, at most
 * {@code maxDegree} each. A node's list is replaced whole (copy on write), so searches running
 * alongside the one writer always read a consistent list.
 */
final class NeighborGraph {

    private static final int[] EMPTY = new int[0];

    private final int maxDegree;
    private volatile AtomicReferenceArray<int[]> lists;
    /** Edges held, kept as lists change: memory reports ask often and must not walk the graph. */
    private final LongAdder edgeCount = new LongAdder();

    NeighborGraph(int maxDegree, int capacity) {
        this.maxDegree = maxDegree;
        this.lists = new AtomicReferenceArray<>(Math.max(16, capacity));
    }

    int maxDegree() {
        return maxDegree;
    }

    /** The neighbours of {@code node} (never null; do not modify). */
    int[] neighbors(int node) {
        AtomicReferenceArray<int[]> l = lists;
        int[] n = node < l.length() ? l.get(node) : null;
        return n == null ? EMPTY : n;
    }

    /** Replaces the neighbours of {@code node}; the writer's call. */
    void set(int node, int[] neighbors) {
        if (neighbors.length > maxDegree) {
            throw new IllegalStateException("degree " + neighbors.length + " exceeds " + maxDegree);
        }
        ensure(node + 1);
        int[] old = lists.getAndSet(node, neighbors.length == 0 ? EMPTY : neighbors);
        edgeCount.add(neighbors.length - (old == null ? 0 : old.length));
    }

    /** Makes room for nodes below {@code size}; call before setting lists from several threads. */
    synchronized void ensure(int size) {
        AtomicReferenceArray<int[]> l = lists;
        if (size <= l.length()) {
            return;
        }
        AtomicReferenceArray<int[]> grown = new AtomicReferenceArray<>(Math.max(size, l.length() * 2));
        for (int i = 0; i < l.length(); i++) {
            grown.set(i, l.get(i));
        }
        lists = grown;
    }

    /** Whether {@code to} is among the neighbours of {@code from}. */
    boolean has(int from, int to) {
        for (int n : neighbors(from)) {
            if (n == to) {
                return true;
            }
        }
        return false;
    }

    /** Edges of all nodes. */
    long edges() {
        return edgeCount.sum();
    }

    long memoryBytes(int nodes) {
        return 16L * lists.length() + 4 * edges() + 16L * nodes;
    }

    static int[] append(int[] list, int value) {
        int[] out = Arrays.copyOf(list, list.length + 1);
        out[list.length] = value;
        return out;
    }
}
