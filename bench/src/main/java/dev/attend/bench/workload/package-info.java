/**
 * Index workloads shaped like one attention head in decoding, what the index and attention benches measure on:
 * {@link dev.attend.bench.workload.KvWorkload} (keys, training queries and test queries, from a real dumped head or
 * generated), and {@link dev.attend.bench.workload.OodWorkloadGenerator}, which fits
 * {@link dev.attend.bench.workload.OodParameters} to real heads and generates out-of-distribution workloads of any
 * size, with the statistics it reproduces in {@link dev.attend.bench.workload.WorkloadStats}. Reads the gpu module's
 * {@code VectorStore} and {@code KvHead}; its k-means is the index module's {@code dev.attend.index.cluster.KMeans}.
 */
package dev.attend.bench.workload;
