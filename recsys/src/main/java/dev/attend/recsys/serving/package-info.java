/**
 * Serving a trained model: {@link dev.attend.recsys.serving.Recommender} (score candidates, recommend, explain) reads
 * users' behaviours from a {@link dev.attend.recsys.serving.SequenceSource}, either the durable local
 * {@link dev.attend.recsys.serving.BehaviorSequenceStore} or the streaming module's Kafka-kept store; both apply the
 * same rule, {@link dev.attend.recsys.serving.BoundedSequence}. The local store's log is written by {@code BehaviorLog},
 * encoded and decoded by {@code BehaviorLogFormat} and recovered at open by {@code BehaviorLogReplay}. Builds on {@code dev.attend.recsys.model} and
 * {@code dev.attend.recsys.data}, the gpu scorer and the index module; the server's recsys endpoints, the CLI,
 * streaming and the benches use it.
 */
package dev.attend.recsys.serving;
