/**
 * The benchmark harnesses, {@code bench NAME [args]} through {@link dev.attend.bench.BenchMain}: scorer throughput
 * against memory bandwidth ({@link dev.attend.bench.ScorerBench}, {@link dev.attend.bench.Triad}), vector indexes on
 * attention workloads ({@link dev.attend.bench.IndexBench}), retrieval attention and head policies
 * ({@link dev.attend.bench.AttentionBench}, {@link dev.attend.bench.PolicyBench}), the same over HTTP, the
 * recommendation models, online learning and the event stream. Each writes JSON and draws a PNG chart
 * ({@link dev.attend.bench.PlotCommand}). It sits on top of every other module and nothing depends on it.
 */
package dev.attend.bench;
