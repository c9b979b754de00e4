/**
 * JMH micro-benchmarks, run through {@code dev.attend.bench.JmhLauncher}:
 * {@link dev.attend.bench.jmh.ScorerBenchmark} (top-k over random rows, the plain scalar loop against the gpu
 * module's {@code SimdScorer}) and {@link dev.attend.bench.jmh.TriadBenchmark} (the STREAM-like memory bandwidth
 * the kernels are judged against). The end-to-end harnesses live in the parent package {@code dev.attend.bench}.
 */
package dev.attend.bench.jmh;
