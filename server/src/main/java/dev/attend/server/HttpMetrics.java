package dev.attend.server;

import io.javalin.http.Context;
import io.javalin.http.RequestLogger;
import io.javalin.router.Endpoint;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * Times every request into {@code http.server.requests} (Prometheus:
 * {@code http_server_requests_seconds_count/_sum/_max}) tagged by method, route, status and outcome.
 *
 * <p>It runs as a Javalin request logger, which is called after the response is written and also
 * for 404s and failures. The route tag is the matched path template ({@code /items/{id}}), never
 * the raw path, so scanners probing random URLs cannot blow up the number of series.
 */
final class HttpMetrics implements RequestLogger {

    static final String METER = "http.server.requests";
    static final String UNMATCHED_ROUTE = "unmatched";

    private final MeterRegistry registry;

    HttpMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    @Override
    public void handle(Context ctx, Float executionTimeMs) {
        Endpoint matched = ctx.endpoints().matchedHttpEndpoint();
        String route = matched == null || matched.path.isEmpty() ? UNMATCHED_ROUTE : matched.path;
        int status = ctx.statusCode();
        Timer.builder(METER)
                .description("HTTP requests served, by route and status")
                .tag("method", ctx.method().name())
                .tag("route", route)
                .tag("status", Integer.toString(status))
                .tag("outcome", outcome(status))
                // buckets, so that a p99 can be computed over instances and time (histogram_quantile)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(60))
                .register(registry)
                .record(Duration.ofNanos((long) (executionTimeMs * 1_000_000.0)));
    }

    private static String outcome(int status) {
        if (status >= 500) {
            return "SERVER_ERROR";
        }
        if (status >= 400) {
            return "CLIENT_ERROR";
        }
        return status >= 300 ? "REDIRECTION" : "SUCCESS";
    }
}
