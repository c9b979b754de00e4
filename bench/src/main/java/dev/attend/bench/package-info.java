/**
 * The benchmark harnesses, {@code bench NAME [args]} through {@link dev.attend.bench.BenchMain}, one picocli command
 * each ({@link dev.attend.bench.BenchCommand}, parsed as {@link dev.attend.bench.BenchCli} says): scorer throughput
 * against memory bandwidth ({@link dev.attend.bench.ScorerBench}, {@link dev.attend.bench.Triad}), vector indexes on
 * attention workloads ({@link dev.attend.bench.IndexBench}), retrieval attention and head policies ({@link dev.attend.bench.AttentionBench},
 * {@link dev.attend.bench.PolicyBench}), the same over HTTP, a KV session of a whole model's shape
 * ({@link dev.attend.bench.ModelBench}), the recommendation models, online learning and the event stream. Where a harness has many options, its command ({@code ScorerCommand}, {@code IndexCommand},
 * {@code AttentionCommand}) reads them into a record ({@code ScorerOptions}, ...); the others declare theirs on the
 * harness. Each writes JSON ({@link dev.attend.bench.JsonWriter}) and draws a PNG chart
 * ({@link dev.attend.bench.PlotCommand} redraws one from its JSON). The workloads the index and attention benches
 * measure on are in {@code dev.attend.bench.workload}. It sits on top of every other module and nothing depends on it.
 */
package dev.attend.bench;
