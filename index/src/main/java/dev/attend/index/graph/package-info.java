/**
 * The attention-aware index: {@link dev.attend.index.graph.AttentionAwareIndex}, a {@code VectorIndex} for queries
 * that do not look like the indexed vectors (attention queries against keys), a graph over the keys whose edges come
 * from training queries by query-to-key projection. As Lucene's {@code util.hnsw} separates them: {@code GraphBuilder}
 * builds and grows the graph, {@code GraphSearcher} searches it, {@code AttentionAwareFiles} is its format, and the
 * graph reads vectors only through {@link dev.attend.index.graph.GraphVectors} (the index's own rows, or rows of a
 * store its caller keeps: a KV session's keys are held once). It scores through the gpu module's {@code Scorer}.
 */
package dev.attend.index.graph;
