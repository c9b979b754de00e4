/**
 * Scoring of queries against stored rows, the hot loop under every other module: the {@link dev.attend.gpu.Scorer}
 * interface ({@code scores}, {@code topK}, {@code attend}) with its backends {@link dev.attend.gpu.SimdScorer} (Vector
 * API, multi-threaded; its scans, tiles and attention in package-private classes beside it),
 * {@link dev.attend.gpu.OpenClScorer} (Aparapi: full scans over keys resident on the device in {@code KeyShard}s; the
 * top-k over a row range, an index build's exact neighbours of many queries, in {@code BuildTopK} over
 * {@code BuildSlot}s, one head's range resident per slot) and {@link dev.attend.gpu.ScalarScorer} (the reference),
 * picked by name in {@link dev.attend.gpu.Scorers}; the rows they
 * read ({@link dev.attend.gpu.VectorStore}, {@link dev.attend.gpu.NpyReader}, {@link dev.attend.gpu.KvHead}). The CPU
 * backends live in the module named gpu because it holds every scoring backend behind one interface and the store
 * they read, so callers choose a backend without knowing which device runs it; every result's
 * {@link dev.attend.gpu.Device} says where it ran. It also holds the numeric kernels every module shares: the one set
 * of SIMD kernels, {@link dev.attend.gpu.VectorMath} (dot products, distances, axpy, small matrix products, at the width
 * {@link dev.attend.gpu.Simd} picks), which the store, the indexes and the models call, and {@link dev.attend.gpu.Adam},
 * the one optimiser the trainers step with (recsys's models, search's LexSemBridge modulation). The generated OpenCL
 * kernels are in {@code internals}, which depends on nothing here. Depends on no other module; index, recsys and the
 * rest build on it.
 */
package dev.attend.gpu;
