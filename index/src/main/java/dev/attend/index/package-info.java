/**
 * Vector indexes on top of the {@code gpu} scorer: the {@link dev.attend.index.VectorIndex} API, the
 * {@link dev.attend.index.AbstractVectorIndex} base that holds the checks every index shares, and the exact
 * baseline {@link dev.attend.index.FlatIndex}; Lucene HNSW, Hnswlib and the attention-aware (query-to-key
 * projected) graph live in sub-packages, and {@code factory} builds any of the first three by kind.
 */
package dev.attend.index;
