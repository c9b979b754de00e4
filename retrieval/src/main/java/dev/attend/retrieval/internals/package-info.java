/**
 * The write-ahead log of a KV session, not public API: {@link dev.attend.retrieval.internals.KvJournal} writes
 * records (checksummed, forced when the session is durable) and {@code KvJournalReader} replays them, skipping and
 * naming damage. Only {@code dev.attend.retrieval}'s session and store use it; it depends on nothing above it.
 */
package dev.attend.retrieval.internals;
