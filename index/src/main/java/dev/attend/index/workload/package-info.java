/**
 * Index workloads shaped like one attention head in decoding: {@link dev.attend.index.workload.KvWorkload} (keys,
 * training queries and test queries, from a real dumped head or generated), and
 * {@link dev.attend.index.workload.OodWorkloadGenerator}, which fits {@link dev.attend.index.workload.OodParameters}
 * to real heads and generates out-of-distribution workloads of any size, with the statistics it reproduces in
 * {@link dev.attend.index.workload.WorkloadStats}. Reads the gpu module's {@code VectorStore} and {@code KvHead};
 * the benches and demos measure indexes on it.
 */
package dev.attend.index.workload;
