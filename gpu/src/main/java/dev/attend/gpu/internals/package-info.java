/**
 * The generated OpenCL kernel of {@code dev.attend.gpu.OpenClScorer}, not public API:
 * {@link dev.attend.gpu.internals.TopKScanKernel} (the Aparapi kernel that scores a batch of queries against resident
 * keys in two passes and returns only candidate lists). It depends on nothing of the gpu package, so that the
 * dependency runs one way; the gpu package's {@code KeyShard} loads a {@code VectorStore} slice into it.
 */
package dev.attend.gpu.internals;
