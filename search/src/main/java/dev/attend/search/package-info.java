/**
 * Hybrid document search over the document index: {@link dev.attend.search.DocumentSearch} answers a query by BM25,
 * dense vectors ({@link dev.attend.search.MiniLmEmbedder}, all-MiniLM-L6-v2 in process, behind
 * {@link dev.attend.search.TextEmbedder}), their fusions ({@link dev.attend.search.Fusion}) or the dense query
 * modulated by its tokens (LexSemBridge), its tokens from {@link dev.attend.search.Vocabulary} or
 * {@link dev.attend.search.WordPieces}; the saved fit beside the index in {@code LexicalFiles}. The modulation: the
 * model {@link dev.attend.search.LexSemModulation} (its kernels in {@code ModulationKernels}), its file
 * {@link dev.attend.search.ModulationFile}, the training loop {@link dev.attend.search.ModulationTrainer} (the loss
 * and its gradients in {@code ModulationLoss}, the lazy Adam steps in {@code ModulationOptimizer}) and the label-free
 * fit {@link dev.attend.search.ModulationFit} (queries from {@link dev.attend.search.FineGrainedQueries}, the start
 * from {@code TokenCentroids}). The documents live in the index module's {@code DocumentIndex}; dot products and Adam
 * come from the gpu module; {@code eval} measures this package.
 */
package dev.attend.search;
