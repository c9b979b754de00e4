/**
 * The generated OpenCL kernels of {@code dev.attend.gpu.OpenClScorer}, not public API:
 * {@link dev.attend.gpu.internals.TopKScanKernel} (a batch of up to 16 queries against resident keys in two passes,
 * returning only candidate lists: decode's shape) and {@link dev.attend.gpu.internals.BuildTopKKernel} (thousands of
 * queries against one resident row range as a register-tiled matrix product, group maxima, per-query thresholds and
 * candidate lists in one launch: an index build's shape). They depend on nothing of the gpu package, so that the
 * dependency runs one way; the gpu package's {@code KeyShard} and {@code BuildSlot} load a {@code VectorStore}'s rows
 * into them.
 */
package dev.attend.gpu.internals;
