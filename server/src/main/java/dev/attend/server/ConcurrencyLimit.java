package dev.attend.server;

import io.javalin.http.Handler;
import io.javalin.router.Endpoint;
import java.util.Map;
import java.util.concurrent.Semaphore;

/**
 * At most {@code limit} endpoint handlers run at once; a request over that gets a 429 at once, with
 * {@code Retry-After: 1}, instead of waiting in Jetty's queue until its client times out (overload then stays a
 * clear answer, and the requests already in stay fast). {@code GET /health} and {@code GET /metrics} are not
 * counted: a server at its limit still says it is alive and shows why.
 */
final class ConcurrencyLimit {

    private final Semaphore permits;
    private final int limit;
    private final ServerMetrics metrics;

    ConcurrencyLimit(int limit, ServerMetrics metrics) {
        this.limit = limit;
        this.permits = new Semaphore(limit);
        this.metrics = metrics;
    }

    /** Wraps an endpoint's handler (before and after handlers, and the two exempt paths, pass unchanged). */
    Handler wrap(Endpoint endpoint, Handler handler) {
        if (!endpoint.method.isHttpMethod() || endpoint.path.equals("/health") || endpoint.path.equals("/metrics")) {
            return handler;
        }
        return ctx -> {
            if (!permits.tryAcquire()) {
                metrics.registry().counter("attend_http_rejected_total", "reason", "concurrency").increment();
                ctx.header("Retry-After", "1");
                throw new ApiException(429, ErrorCodes.TOO_MANY_REQUESTS, "the server is handling " + limit
                        + " requests, its limit; retry shortly", Map.of("limit", limit));
            }
            try {
                handler.handle(ctx);
            } finally {
                permits.release();
            }
        };
    }
}
