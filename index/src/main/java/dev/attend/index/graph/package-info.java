/**
 * The attention-aware index: {@link dev.attend.index.graph.AttentionAwareIndex}, a {@code VectorIndex} for queries
 * that do not look like the indexed vectors (attention queries against keys), a graph over the keys whose edges come
 * from training queries by query-to-key projection. Its helpers ({@code NeighborGraph}, {@code GraphSearcher},
 * {@code CandidateLists}) are package-private. It scores through the gpu module's {@code Scorer}; the retrieval
 * module's KV sessions and head policies, the server's KV endpoints and the benches use it.
 */
package dev.attend.index.graph;
