/**
 * The state of the Kafka Streams sequence topology, not public API: {@link dev.attend.streaming.internals.SequenceKeys}
 * lays out users' sequences in the state stores (with {@link dev.attend.streaming.internals.MetaStore} for per-user
 * meta values); the broker module ends transactions left open after a crash. Only the streaming package uses it, and it uses nothing of that package (the topology's processor and the
 * event JSON live there, beside the wire format they read); it applies the recsys module's {@code BoundedSequence} rule.
 */
package dev.attend.streaming.internals;
