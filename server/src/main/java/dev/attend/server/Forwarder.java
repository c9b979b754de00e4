package dev.attend.server;

import io.javalin.http.Context;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.kafka.streams.state.HostInfo;

/**
 * With several instances (through Kafka), the one that holds a user or a KV session answers about it: a request that
 * arrives elsewhere is sent on there (same method, path, query and body) and its answer returned.
 */
public final class Forwarder {

    /** Header of a request forwarded from another instance (answered here, never forwarded again). */
    public static final String FORWARDED_HEADER = "X-Attend-Forwarded";

    private final HostInfo self;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** Forwards from the instance at {@code self}. */
    public Forwarder(HostInfo self) {
        this.self = self;
    }

    /**
     * Sends {@code ctx} on to {@code owner} (what holds {@code what}, named by {@code details}), unless that is this
     * instance; true when it was. While ownership moves (a rebalance, an instance restarting) the owner is looked up
     * again and the request retried for up to {@link #RETRY_FOR}; only then is it a 503 (no owner yet) or 502 (the owner
     * did not answer). A request other than GET or HEAD is sent again only when it never reached the owner (no
     * connection): one that failed after it was sent may have been applied, and only the client can settle that.
     */
    public boolean forwarded(Context ctx, Supplier<Optional<HostInfo>> owner, String what, Map<String, Object> details) {
        if (ctx.header(FORWARDED_HEADER) != null) {
            return false;
        }
        long deadline = System.nanoTime() + RETRY_FOR.toNanos();
        for (int attempt = 0; ; attempt++) {
            Optional<HostInfo> at = owner.get();
            boolean last = System.nanoTime() > deadline;
            if (at.isEmpty()) {
                if (last) {
                    throw new ApiException(503, "unavailable", "the instances are rebalancing " + what + "; retry shortly", details);
                }
                pause(attempt);
                continue;
            }
            if (at.get().equals(self)) {
                return false;
            }
            try {
                send(ctx, at.get());
                return true;
            } catch (IOException e) {
                if (!repeatable(ctx) && !(e instanceof ConnectException || e instanceof HttpConnectTimeoutException)) {
                    throw new ApiException(502, "forward_failed", "the instance holding " + what + " (" + at.get().host() + ":" + at.get().port()
                            + ") did not answer after the request was sent (" + e.getMessage() + "): it may have been applied; read it back before sending"
                            + " it again", details);
                }
                if (last) {
                    throw new ApiException(502, "forward_failed", "the instance holding " + what + " (" + at.get().host() + ":"
                            + at.get().port() + ") did not answer for " + RETRY_FOR.toSeconds() + " s: " + e.getMessage(), details);
                }
                pause(attempt);
            }
        }
    }

    private static boolean repeatable(Context ctx) {
        String m = ctx.method().name();
        return m.equals("GET") || m.equals("HEAD");
    }

    /** How long a request waits for ownership to settle or the owner to answer. */
    public static final Duration RETRY_FOR = Duration.ofSeconds(10);

    private static void pause(int attempt) {
        try {
            Thread.sleep(Math.min(1000, 50L << Math.min(attempt, 5)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "unavailable", "interrupted while forwarding");
        }
    }

    private void send(Context ctx, HostInfo owner) throws IOException {
        String query = ctx.queryString() == null ? "" : "?" + ctx.queryString();
        URI target = URI.create("http://" + owner.host() + ":" + owner.port() + ctx.path() + query);
        HttpRequest.Builder b = HttpRequest.newBuilder(target).timeout(Duration.ofSeconds(30)).header(FORWARDED_HEADER, "1");
        String type = ctx.contentType();
        if (type != null) {
            b.header("Content-Type", type);
        }
        String auth = ctx.header("Authorization");
        if (auth != null) {
            b.header("Authorization", auth);
        }
        b.method(ctx.method().name(), ctx.bodyAsBytes().length == 0 ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(ctx.bodyAsBytes()));
        HttpResponse<byte[]> answer;
        try {
            answer = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "unavailable", "interrupted while forwarding");
        }
        ctx.status(answer.statusCode());
        answer.headers().firstValue("Content-Type").ifPresent(ctx::contentType);
        ctx.header("X-Attend-Served-By", owner.host() + ":" + owner.port());
        ctx.result(answer.body());
    }
}
