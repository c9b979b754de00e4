/**
 * Vector indexes on top of the {@code gpu} scorer: the {@link dev.attend.index.VectorIndex} API, the
 * {@link dev.attend.index.AbstractVectorIndex} base that holds the checks every index shares, and the exact
 * baseline {@link dev.attend.index.FlatIndex}; Lucene HNSW, Hnswlib and the attention-aware (query-to-key
 * projected) graph live in sub-packages, {@code factory} builds any of the first three by kind, with k-means
 * ({@code cluster}) and what stores share ({@code store}).
 */
package dev.attend.index;
