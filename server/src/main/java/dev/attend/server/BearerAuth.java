package dev.attend.server;

import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * When a token is configured, every request but {@code GET /health} and the console's static files must carry
 * {@code Authorization: Bearer <token>}.
 * The comparison takes the same time whatever the bytes (MessageDigest.isEqual), so response times do not reveal how
 * much of a guess was right; a refusal is a 401 with {@code WWW-Authenticate: Bearer} and never echoes what was sent.
 */
final class BearerAuth implements Handler {

    private static final String PREFIX = "Bearer ";
    private final byte[] expected;
    private final ServerMetrics metrics;

    BearerAuth(String token, ServerMetrics metrics) {
        this.expected = token.getBytes(StandardCharsets.US_ASCII);
        this.metrics = metrics;
    }

    @Override
    public void handle(Context ctx) {
        if (ctx.path().equals("/health") || Arrays.stream(AttendServer.CONSOLE_ASSETS).anyMatch(a -> a[0].equals(ctx.path()))) {
            return; // liveness, and the console's static files (its API calls carry the token)
        }
        String header = ctx.header("Authorization");
        byte[] given = header != null && header.regionMatches(true, 0, PREFIX, 0, PREFIX.length())
                ? header.substring(PREFIX.length()).strip().getBytes(StandardCharsets.US_ASCII) : new byte[0];
        if (!MessageDigest.isEqual(expected, given)) {
            metrics.registry().counter("attend_http_rejected_total", "reason", "auth").increment();
            ctx.header("WWW-Authenticate", "Bearer realm=\"attend\"");
            throw new ApiException(401, ErrorCodes.UNAUTHORIZED, header == null ? "this server needs 'Authorization: Bearer <token>'"
                    : "the bearer token is not valid");
        }
    }
}
