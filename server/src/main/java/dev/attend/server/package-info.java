/**
 * The HTTP server shared by every feature: {@link dev.attend.server.AttendServer} (Javalin on Jetty, health,
 * Prometheus metrics through {@link dev.attend.server.ServerMetrics}, graceful shutdown), its configuration
 * ({@link dev.attend.server.ServerConfig} from {@link dev.attend.server.ServerConfigLoader}: file, environment, flags),
 * the request guards (bearer token, body size and read deadline, concurrency limit, content type, origin) and the one
 * JSON error shape ({@link dev.attend.server.ApiException}, {@link dev.attend.server.ErrorMapping}). The endpoints
 * live in sub-packages {@code kv}, {@code recsys} and {@code search}, the command line in {@code cli}; the server
 * module is the top of the engine, only the benches use it.
 */
package dev.attend.server;
