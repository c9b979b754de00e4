package dev.attend.index.graph;

import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

/**
 * Out-neighbour lists of a directed graph over node numbers {@code 0..size-1}, at most {@code maxDegree} each, stored
 * in place: node {@code i}'s list is {@code maxDegree + 1} ints of a page (its length, then its nodes), so a search
 * that expands a node waits for one cache miss, not for an array of references and then the list it points to.
 * Pages hold {@value #PAGE_NODES} nodes and never move once full; only the last grows (copied), so appending nodes
 * costs no copy of the graph.
 *
 * <p>Each list has one writer at a time (builds set disjoint nodes from several threads; {@link #ensure} first).
 * Searches may read a list while it is replaced: they then see a mix of its old and new nodes, every one a node of the
 * graph, which a search tolerates (it checks each node's bound and visits each once).
 */
final class NeighborGraph {

    static final int PAGE_SHIFT = 12;
    static final int PAGE_NODES = 1 << PAGE_SHIFT;
    private static final int[][] NO_PAGES = new int[0][];

    private final int maxDegree;
    /** Ints per node: the length, then {@code maxDegree} slots. */
    private final int stride;
    /** Every page but the last holds {@link #PAGE_NODES} nodes; the last may hold fewer. */
    private volatile int[][] pages = NO_PAGES;
    /** Nodes the pages hold. */
    private volatile int capacity;
    /** Edges held, kept as lists change: memory reports ask often and must not walk the graph. */
    private final LongAdder edgeCount = new LongAdder();

    NeighborGraph(int maxDegree, int capacity) {
        this.maxDegree = maxDegree;
        this.stride = maxDegree + 1;
        ensure(capacity);
    }

    int maxDegree() {
        return maxDegree;
    }

    /** The length of {@code node}'s list (0 for a node never set). */
    int degree(int node) {
        if (node >= capacity) {
            return 0;
        }
        return pages[node >>> PAGE_SHIFT][(node & (PAGE_NODES - 1)) * stride];
    }

    /**
     * Copies {@code node}'s list into {@code dst} (of at least {@link #maxDegree} ints) and returns its length; no
     * allocation, for searches.
     */
    int copyNeighbors(int node, int[] dst) {
        if (node >= capacity) {
            return 0;
        }
        int[] page = pages[node >>> PAGE_SHIFT];
        int at = (node & (PAGE_NODES - 1)) * stride;
        int d = Math.min(page[at], maxDegree);
        System.arraycopy(page, at + 1, dst, 0, d);
        return d;
    }

    /** The neighbours of {@code node}, a new array (never null). */
    int[] neighbors(int node) {
        if (node >= capacity) {
            return new int[0];
        }
        int[] page = pages[node >>> PAGE_SHIFT];
        int at = (node & (PAGE_NODES - 1)) * stride;
        return Arrays.copyOfRange(page, at + 1, at + 1 + Math.min(page[at], maxDegree));
    }

    /** Replaces the neighbours of {@code node}; its writer's call. */
    void set(int node, int[] neighbors) {
        if (neighbors.length > maxDegree) {
            throw new IllegalStateException("degree " + neighbors.length + " exceeds " + maxDegree);
        }
        if (node >= capacity) {
            ensure(node + 1);
        }
        int[] page = pages[node >>> PAGE_SHIFT];
        int at = (node & (PAGE_NODES - 1)) * stride;
        int old = page[at];
        // The nodes before the length: a reader that sees the new length sees nodes of the graph in every slot.
        System.arraycopy(neighbors, 0, page, at + 1, neighbors.length);
        page[at] = neighbors.length;
        edgeCount.add(neighbors.length - old);
    }

    /** Makes room for nodes below {@code size}; call before setting lists from several threads. */
    synchronized void ensure(int size) {
        int cap = capacity;
        if (size <= cap) {
            return;
        }
        int[][] p = pages;
        int full = cap >>> PAGE_SHIFT; // pages already full
        int need = (size + PAGE_NODES - 1) >>> PAGE_SHIFT;
        int[][] grown = p.length == need ? p.clone() : Arrays.copyOf(p, need);
        for (int i = full; i < need; i++) {
            // The last page grows by doubling up to a full page: small graphs stay small.
            int nodes = i < need - 1 ? PAGE_NODES : Math.min(PAGE_NODES, Math.max(size - i * PAGE_NODES,
                    Math.min(PAGE_NODES, 2 * pageNodes(p, i))));
            int[] page = new int[nodes * stride];
            if (i < p.length && p[i] != null) {
                System.arraycopy(p[i], 0, page, 0, p[i].length);
            }
            grown[i] = page;
        }
        pages = grown;
        capacity = (need - 1) * PAGE_NODES + grown[need - 1].length / stride;
    }

    private int pageNodes(int[][] p, int i) {
        return i < p.length && p[i] != null ? p[i].length / stride : 0;
    }

    /** Whether {@code to} is among the neighbours of {@code from}. */
    boolean has(int from, int to) {
        if (from >= capacity) {
            return false;
        }
        int[] page = pages[from >>> PAGE_SHIFT];
        int at = (from & (PAGE_NODES - 1)) * stride;
        int d = Math.min(page[at], maxDegree);
        for (int i = 1; i <= d; i++) {
            if (page[at + i] == to) {
                return true;
            }
        }
        return false;
    }

    /** Edges of all nodes. */
    long edges() {
        return edgeCount.sum();
    }

    /** Bytes of the pages. */
    long memoryBytes() {
        return 4L * stride * capacity + 16L * pages.length;
    }

    static int[] append(int[] list, int value) {
        int[] out = Arrays.copyOf(list, list.length + 1);
        out[list.length] = value;
        return out;
    }
}
