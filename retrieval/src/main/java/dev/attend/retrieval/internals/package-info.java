/**
 * The inside of a {@code dev.attend.retrieval.KvSession}, not public API: {@link dev.attend.retrieval.internals.KvHeadState}
 * (the keys, values and indexes of one KV head, with their locking), {@link dev.attend.retrieval.internals.KvJournal}
 * (the write-ahead log that makes sessions durable) and {@link dev.attend.retrieval.policy.LogSumExpMerge} (the exact
 * merge of attention over disjoint key sets). Only the retrieval module uses it; it builds on the gpu store and the
 * index module's indexes.
 */
package dev.attend.retrieval.internals;
