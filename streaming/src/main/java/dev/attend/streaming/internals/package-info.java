/**
 * The inside of the Kafka Streams sequence topology, not public API: {@link dev.attend.streaming.internals.SequenceProcessor}
 * applies each event to its user's sequence in the state stores (laid out by
 * {@link dev.attend.streaming.internals.SequenceKeys}, with {@link dev.attend.streaming.internals.MetaStore} for
 * per-user meta values), {@link dev.attend.streaming.internals.WireJson} reads and writes the event JSON, and
 * {@link dev.attend.streaming.internals.HangingTransactions} ends transactions left open after a crash. Only the
 * streaming package uses it; it applies the recsys module's {@code BoundedSequence} rule.
 */
package dev.attend.streaming.internals;
