/**
 * Building an index by kind: {@link dev.attend.index.factory.VectorIndexes#create} makes a flat, hnswlib or Lucene
 * {@link dev.attend.index.VectorIndex} from an {@link dev.attend.index.factory.IndexKind} and options, for the
 * recommender, the KV sessions and the benchmarks. A package of its own because it depends on every index package,
 * which depend on {@code dev.attend.index}: kept here, the graph has no cycle.
 */
package dev.attend.index.factory;
