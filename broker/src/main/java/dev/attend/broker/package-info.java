/**
 * The Kafka a server runs on: {@link dev.attend.broker.EmbeddedKafkaBroker} (a single-node KRaft broker in the JVM,
 * its log under a folder of the server's) and {@link dev.attend.broker.EventStreaming}, which puts the streaming
 * module's producer, sequence topology and online training together on that broker or on a cluster. Its own
 * artifact (attend-broker) so that the Kafka server comes only with it: an application that only produces or reads
 * events depends on attend-streaming. The server and the benches use it.
 */
package dev.attend.broker;
