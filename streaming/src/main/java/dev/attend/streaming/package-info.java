/**
 * Behaviour events on Kafka, the client side: the wire format ({@link dev.attend.streaming.EventWire}, {@link dev.attend.streaming.StreamEvent}),
 * {@link dev.attend.streaming.EventProducer}, {@link dev.attend.streaming.SequenceStream} (the Kafka Streams topology
 * that keeps users' sequences, readable as a recommender's {@code SequenceSource}), {@link dev.attend.streaming.OnlineTraining}
 * (the served model trained as events arrive). The broker module ({@code dev.attend.broker}, artifact attend-broker)
 * adds the embedded broker and the event stream a server runs: the Kafka server comes with it, not with this client
 * side. The topology's processor ({@code SequenceProcessor}) and the event JSON ({@code WireJson}) are
 * package-private here; the state-store layout lives in {@code internals}, which depends on nothing of this package.
 * Builds on the recsys module; the server and the benches use it.
 */
package dev.attend.streaming;
