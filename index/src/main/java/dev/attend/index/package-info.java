/**
 * Vector indexes on top of the {@code gpu} scorer: the {@link dev.attend.index.VectorIndex} API and
 * its exact baseline {@link dev.attend.index.FlatIndex}; Lucene HNSW, Hnswlib and the attention-aware
 * (query-to-key projected) graph live in sub-packages.
 */
package dev.attend.index;
