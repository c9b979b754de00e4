/**
 * Lucene 10 behind two front doors. {@link dev.attend.index.lucene.LuceneVectorIndex}: a
 * {@link dev.attend.index.VectorIndex} on Lucene HNSW ({@code KnnFloatVectorField}, optional scalar quantization),
 * searched under a budget by {@link dev.attend.index.lucene.BudgetedKnnSearch} over
 * {@link dev.attend.index.lucene.NrtSearchers}, its field format in {@code VectorFieldFormat} and its saved folders in
 * {@code LuceneFolders}. {@link dev.attend.index.lucene.DocumentIndex}: documents with BM25 text and dense vectors,
 * its writer with rollback to the last commit in {@code DocumentWriter}, its open-time damage check in
 * {@code DocumentIndexCheck} and its argument checks in {@code DocumentChecks}.
 */
package dev.attend.index.lucene;
