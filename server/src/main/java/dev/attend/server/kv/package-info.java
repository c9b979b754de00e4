/**
 * The HTTP endpoints of retrieval attention: {@link dev.attend.server.kv.KvSessionRoutes} creates, fills, queries and
 * inspects KV sessions (JSON or raw float bodies) over the retrieval module's {@code KvSession} and
 * {@code KvSessionStore}. Registered on the {@code dev.attend.server} server by {@code attend serve}; the language
 * model's HTTP attention and the benches call it.
 */
package dev.attend.server.kv;
