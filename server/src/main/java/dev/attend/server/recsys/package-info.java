/**
 * The HTTP endpoints of long-sequence recommendation: {@link dev.attend.server.recsys.RecsysRoutes} takes behaviour
 * events and answers score, recommend and explain requests with the source data's ids, over the recsys module's
 * {@code Recommender} and a sequence store that is either local or kept by the streaming module from Kafka (then
 * the server's {@code Forwarder} sends a request to the instance that holds its user). Its request bodies ({@code RecsysRequests}),
 * answers ({@code RecsysJson}) and gauges ({@code RecsysMetrics}) are package-private beside it. Registered on the
 * {@code dev.attend.server} server by {@code attend serve}.
 */
package dev.attend.server.recsys;
