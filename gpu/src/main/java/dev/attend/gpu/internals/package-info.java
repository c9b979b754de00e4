/**
 * The OpenCL side of {@code dev.attend.gpu.OpenClScorer}, not public API: {@link dev.attend.gpu.internals.TopKScanKernel}
 * (the Aparapi kernel that scores a batch of queries against resident keys in two passes and returns only candidate
 * lists) and {@link dev.attend.gpu.internals.KeyShard} (one device-resident slice of a {@code VectorStore} in the
 * kernel's blocked layout). Only the gpu package uses it; callers go through the {@code Scorer} interface.
 */
package dev.attend.gpu.internals;
