/**
 * {@link dev.attend.index.lucene.LuceneVectorIndex}: Lucene 10 HNSW ({@code KnnFloatVectorField}, optional
 * scalar quantization) in a memory-mapped directory, with budgets as visit limits and visited counts
 * reported.
 */
package dev.attend.index.lucene;
