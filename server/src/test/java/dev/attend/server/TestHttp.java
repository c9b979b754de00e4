package dev.attend.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A plain java.net.http client for talking to a real server in tests. */
final class TestHttp {

    static final Duration TIMEOUT = Duration.ofSeconds(30); // a 2-core CI machine under a Kafka broker and a GC pause

    // HTTP/1.1 so the client does not try an h2c upgrade that Jetty's plain connector ignores.
    static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(TIMEOUT)
            .build();

    private TestHttp() {
    }

    static HttpRequest.Builder request(AttendServer server, String path) {
        return HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(TIMEOUT);
    }

    static HttpResponse<String> send(HttpRequest request) {
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static HttpResponse<String> get(AttendServer server, String path) {
        return send(request(server, path).GET().build());
    }

    static HttpResponse<String> post(AttendServer server, String path, HttpRequest.BodyPublisher body) {
        return send(request(server, path).header("Content-Type", "application/json").POST(body).build());
    }

    /** POST {@code body} as JSON: a String is sent as it is (malformed bodies included), anything else serialised. */
    static HttpResponse<String> postJson(AttendServer server, String path, Object body) {
        try {
            return post(server, path, HttpRequest.BodyPublishers.ofString(body instanceof String s ? s : Json.MAPPER.writeValueAsString(body)));
        } catch (JsonProcessingException e) {
            throw new AssertionError(e);
        }
    }

    /** GET the user until the sequence holds {@code length} behaviours (the topology applies events asynchronously). */
    static HttpResponse<String> awaitUserLength(AttendServer server, long user, int length) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        HttpResponse<String> r;
        do {
            r = get(server, "/v1/recsys/users/" + user);
            if (r.statusCode() == 200 && json(r).get("length").asInt() >= length) {
                return r;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("user " + user + " did not reach " + length + " behaviours: " + r.statusCode() + " " + r.body());
    }

    static JsonNode json(HttpResponse<String> response) {
        try {
            return Json.MAPPER.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("Not JSON: " + response.body(), e);
        }
    }
}
