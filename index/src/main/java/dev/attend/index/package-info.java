/**
 * Vector indexes on top of the {@code gpu} scorer: the {@link dev.attend.index.VectorIndex} API and
 * its exact baseline {@link dev.attend.index.FlatIndex}; Lucene HNSW, Hnswlib and the attention-aware
 * (query-to-key projected) graph live in sub-packages, with k-means ({@code cluster}) and what stores share
 * ({@code store}).
 */
package dev.attend.index;
