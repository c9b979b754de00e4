package dev.attend.index.graph;

import dev.attend.gpu.TopKCollector;
import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * Best-first beam search over a {@link NeighborGraph} by inner product (nodes {@code [0, n)} scored through a
 * {@link GraphVectors.QueryScorer}): expand the best unexpanded
 * candidate, score its unvisited neighbours, keep the {@code beam} best seen, stop when the best
 * unexpanded candidate cannot enter the beam or the budget of distance computations is spent.
 * One searcher per thread, shared by every index the thread searches ({@link #forThread}): its visited marks and queues
 * stay warm in the core's cache from one search to the next, and a session of 256 indexes answered by 16 threads holds
 * 16 of them, not 4,096.
 */
final class GraphSearcher {

    private static final ThreadLocal<GraphSearcher> PER_THREAD = ThreadLocal.withInitial(GraphSearcher::new);

    /** This thread's searcher. A search never starts another on its thread, so one is enough. */
    static GraphSearcher forThread() {
        return PER_THREAD.get();
    }

    /** Visited nodes of the current search, one bit each: at 10^6 keys 125 KiB, which stays in cache. */
    private long[] visited = new long[0];
    /** The neighbours of the node being expanded; those not visited yet, and their scores. */
    private int[] neighbors = new int[64];
    private int[] pending = new int[64];
    private float[] pendingScores = new float[64];
    private float[] candScores = new float[64];
    private int[] candNodes = new int[64];
    private int candSize;
    /** The beam of the current search, kept for the next one of the same width (it is never returned). */
    private TopKCollector frontier;

    long distanceComputations;
    long nodesVisited;

    /**
     * Searches from {@code entries} with a beam of {@code beam}; returns the best {@code resultSize} nodes found.
     * Nodes for which {@code skip} answers true are traversed but not returned.
     */
    TopKCollector search(NeighborGraph graph, GraphVectors.QueryScorer scorer, int n, int[] entries, int beam, int resultSize,
                         long budget, IntPredicate skip) {
        int words = (n + 63) >>> 6;
        if (visited.length < words) {
            visited = new long[Math.max(words, visited.length * 2)];
        } else {
            Arrays.fill(visited, 0, words, 0L);
        }
        distanceComputations = 0;
        nodesVisited = 0;
        candSize = 0;
        // Only the best resultSize are returned: a collector that small rejects most offers at its threshold.
        TopKCollector results = new TopKCollector(Math.min(resultSize, beam));
        // Expansion order follows all seen nodes, removed ones included, so they still route.
        TopKCollector frontier = this.frontier;
        if (frontier == null || frontier.capacity() != beam) {
            frontier = new TopKCollector(beam);
            this.frontier = frontier;
        } else {
            frontier.clear();
        }
        for (int e : entries) {
            if (e < n && !testAndSet(e) && distanceComputations < budget) {
                float s = scorer.score(e);
                distanceComputations++;
                push(e, s);
                frontier.offer(s, e);
                if (!skip.test(e)) {
                    results.offer(s, e);
                }
            }
        }
        while (candSize > 0 && distanceComputations < budget) {
            int best = popBest();
            float bestScore = lastPopped;
            if (bestScore < frontier.threshold()) {
                break;
            }
            nodesVisited++;
            // Three passes over the neighbours: the visited bits, then the scores, then the queues. The
            // row reads of the second pass do not depend on each other, and the scorer has them in flight
            // together (one pass, each read waited behind the queue work of the previous one).
            if (neighbors.length < graph.maxDegree()) {
                neighbors = new int[graph.maxDegree()];
                pending = new int[graph.maxDegree()];
                pendingScores = new float[graph.maxDegree()];
            }
            int degree = graph.copyNeighbors(best, neighbors);
            int m = 0;
            long left = budget - distanceComputations;
            for (int i = 0; i < degree && m < left; i++) {
                int nb = neighbors[i];
                if (nb < n && !testAndSet(nb)) {
                    pending[m++] = nb;
                }
            }
            // The list of the node most likely expanded next, loaded while the rows' misses are in flight (and again
            // below, should a neighbour take its place): its miss is then mostly paid.
            if (candSize > 0) {
                listsTouched += graph.degree(candNodes[0]);
            }
            scorer.score(pending, m, pendingScores);
            distanceComputations += m;
            for (int i = 0; i < m; i++) {
                int nb = pending[i];
                float s = pendingScores[i];
                if (s > frontier.threshold() || frontier.size() < beam) {
                    frontier.offer(s, nb);
                    push(nb, s);
                    if (!skip.test(nb)) {
                        results.offer(s, nb);
                    }
                }
            }
            if (candSize > 0) {
                listsTouched += graph.degree(candNodes[0]);
            }
        }
        return results;
    }

    /** Sums the degrees read ahead, so that the compiler keeps those loads. */
    private long listsTouched;

    private float lastPopped;

    /** Marks {@code node} visited; returns whether it was already. */
    private boolean testAndSet(int node) {
        int w = node >>> 6;
        long bit = 1L << node; // the shift uses the low six bits
        long word = visited[w];
        visited[w] = word | bit;
        return (word & bit) != 0;
    }

    private void push(int node, float score) {
        if (candSize == candNodes.length) {
            candNodes = Arrays.copyOf(candNodes, candSize * 2);
            candScores = Arrays.copyOf(candScores, candSize * 2);
        }
        // Binary max-heap on score.
        int i = candSize++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (candScores[parent] >= score) {
                break;
            }
            candNodes[i] = candNodes[parent];
            candScores[i] = candScores[parent];
            i = parent;
        }
        candNodes[i] = node;
        candScores[i] = score;
    }

    private int popBest() {
        int top = candNodes[0];
        lastPopped = candScores[0];
        int lastNode = candNodes[--candSize];
        float last = candScores[candSize];
        int i = 0;
        int half = candSize >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            if (child + 1 < candSize && candScores[child + 1] > candScores[child]) {
                child++;
            }
            if (candScores[child] <= last) {
                break;
            }
            candNodes[i] = candNodes[child];
            candScores[i] = candScores[child];
            i = child;
        }
        if (candSize > 0) {
            candNodes[i] = lastNode;
            candScores[i] = last;
        }
        return top;
    }
}
