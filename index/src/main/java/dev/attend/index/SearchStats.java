package dev.attend.index;

/**
 * What one search cost.
 *
 * @param distanceComputations exact query-vector scores computed ({@code / size()} is the scanned fraction)
 * @param nodesVisited         graph nodes expanded (0 for a flat scan); -1 where the library does not say
 * @param micros               wall time of the search
 * @param method               how it was answered (for example "flat", "graph", "lucene-hnsw", or "flat (index building)")
 */
public record SearchStats(long distanceComputations, long nodesVisited, long micros, String method) {
}
