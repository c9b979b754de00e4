/**
 * The HTTP endpoints of retrieval attention: {@link dev.attend.server.kv.KvSessionRoutes} creates, fills, queries and
 * inspects KV sessions over the retrieval module's {@code KvSession} and {@code KvSessionStore}; beside it, package-private,
 * its JSON request bodies ({@code KvRequests}) and answers ({@code KvSessionJson}), the binary wire format
 * ({@code KvBinaryBodies}), the gauges ({@code KvSessionMetrics}) and the time-to-live sweeper ({@code KvSessionTtl});
 * its index threads are the retrieval module's {@code KvSessionThreads}. Registered on the {@code dev.attend.server}
 * server by {@code attend serve}; the language model's HTTP attention and the benches call it.
 */
package dev.attend.server.kv;
