package dev.attend.server;

import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A request a browser sends from another site's page carries that site's {@code Origin}; the API serves no CORS, so such
 * a request is never legitimate unless the operator lists the origin ({@code attend.allowed-origins}). It gets a 403
 * before any handler runs. Requests without {@code Origin} (curl, SDKs, the server's own console on reads) and from the
 * server's own origin pass.
 */
final class OriginCheck implements Handler {

    private final List<String> allowed;
    private final ServerMetrics metrics;

    OriginCheck(List<String> allowed, ServerMetrics metrics) {
        this.allowed = List.copyOf(allowed);
        this.metrics = metrics;
    }

    @Override
    public void handle(Context ctx) {
        String origin = ctx.header("Origin");
        if (origin == null || sameOrigin(origin, ctx.header("Host")) || allowed.contains(origin.strip().toLowerCase(Locale.ROOT))) {
            return;
        }
        metrics.registry().counter("attend_http_rejected_total", "reason", "origin").increment();
        throw new ApiException(403, ErrorCodes.FORBIDDEN, "requests from another site's pages are refused; an operator can allow an "
                + "origin with " + ConfigKey.ALLOWED_ORIGINS.property(), Map.of());
    }

    /** The origin's host and port are the Host the request was sent to (default ports spelt out or not). */
    static boolean sameOrigin(String origin, String host) {
        if (host == null) {
            return false;
        }
        try {
            URI o = URI.create(origin.strip());
            if (o.getHost() == null || !(("http".equalsIgnoreCase(o.getScheme())) || "https".equalsIgnoreCase(o.getScheme()))) {
                return false;
            }
            int port = o.getPort() >= 0 ? o.getPort() : "https".equalsIgnoreCase(o.getScheme()) ? 443 : 80;
            URI h = URI.create("http://" + host.strip());
            int hostPort = h.getPort() >= 0 ? h.getPort() : port == 443 && "https".equalsIgnoreCase(o.getScheme()) ? 443 : 80;
            return h.getHost() != null && h.getHost().equalsIgnoreCase(o.getHost()) && hostPort == port;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
