package dev.attend.index.graph;

import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.VectorStore;
import java.util.Arrays;

/**
 * Best-first beam search over a {@link NeighborGraph} by inner product: expand the best unexpanded
 * candidate, score its unvisited neighbours, keep the {@code beam} best seen, stop when the best
 * unexpanded candidate cannot enter the beam or the budget of distance computations is spent.
 * One searcher per thread (it reuses its visited marks and queues).
 */
final class GraphSearcher {

    private int[] visitedStamp = new int[0];
    private int stamp;
    private float[] candScores = new float[64];
    private int[] candNodes = new int[64];
    private int candSize;

    long distanceComputations;
    long nodesVisited;

    /**
     * Searches from {@code entries}; returns the beam's nodes and scores, best first, in {@code out}.
     * Nodes for which {@code skip} answers true are traversed but not returned.
     */
    TopKCollector search(NeighborGraph graph, VectorStore keys, float[] query, int[] entries, int beam, long budget,
                         java.util.function.IntPredicate skip) {
        int n = keys.size();
        if (visitedStamp.length < n) {
            visitedStamp = Arrays.copyOf(visitedStamp, Math.max(n, visitedStamp.length * 2));
        }
        if (++stamp == Integer.MAX_VALUE) {
            Arrays.fill(visitedStamp, 0);
            stamp = 1;
        }
        distanceComputations = 0;
        nodesVisited = 0;
        candSize = 0;
        TopKCollector results = new TopKCollector(beam);
        // Expansion order follows all seen nodes, removed ones included, so they still route.
        TopKCollector frontier = new TopKCollector(beam);
        for (int e : entries) {
            if (e < n && visitedStamp[e] != stamp && distanceComputations < budget) {
                visitedStamp[e] = stamp;
                float s = keys.dot(e, query);
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
            for (int nb : graph.neighbors(best)) {
                if (nb >= n || visitedStamp[nb] == stamp) {
                    continue;
                }
                visitedStamp[nb] = stamp;
                float s = keys.dot(nb, query);
                distanceComputations++;
                if (s > frontier.threshold() || frontier.size() < beam) {
                    frontier.offer(s, nb);
                    push(nb, s);
                    if (!skip.test(nb)) {
                        results.offer(s, nb);
                    }
                }
                if (distanceComputations >= budget) {
                    break;
                }
            }
        }
        return results;
    }

    private float lastPopped;

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
