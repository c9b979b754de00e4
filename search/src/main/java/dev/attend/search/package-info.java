/**
 * Hybrid document search over the document index: {@link dev.attend.search.DocumentSearch} answers a query by BM25,
 * dense vectors ({@link dev.attend.search.MiniLmEmbedder}, all-MiniLM-L6-v2 in process, behind
 * {@link dev.attend.search.TextEmbedder}), their fusions ({@link dev.attend.search.Fusion}) or the dense query
 * modulated by its tokens (LexSemBridge: {@link dev.attend.search.LexSemModulation}, its tokens from
 * {@link dev.attend.search.Vocabulary} or {@link dev.attend.search.WordPieces}). {@link dev.attend.search.ModulationFit}
 * fits the modulation without labels from generated queries ({@link dev.attend.search.FineGrainedQueries}) and
 * {@link dev.attend.search.ModulationTrainer} trains it. The documents live in {@code dev.attend.index.lucene}'s
 * {@code DocumentIndex}; the numeric kernels come from {@code dev.attend.gpu}; {@code eval} measures this package.
 */
package dev.attend.search;
