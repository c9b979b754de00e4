package dev.attend.server;

import static dev.attend.server.TestHttp.get;
import static dev.attend.server.TestHttp.json;
import static dev.attend.server.TestHttp.post;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttendServerTest {

    static final long LIMIT = 1024;

    /** Request body of the test-only echo route; unknown fields are rejected by Json.MAPPER. */
    record Echo(String text) {
    }

    @TempDir
    static Path dataDir;

    static AttendServer server;

    @BeforeAll
    static void start() {
        server = AttendServer.builder()
                .routes(routes -> routes
                        .post("/test/echo", ctx -> ctx.json(ctx.bodyAsClass(Echo.class)))
                        .get("/test/boom", ctx -> {
                            throw new IllegalStateException("secret internal detail");
                        })
                        .get("/test/assert", ctx -> {
                            throw new AssertionError("secret assertion detail");
                        })
                        .get("/test/conflict", ctx -> {
                            throw new ApiException(409, "already_exists", "Item 7 already exists", Map.of("id", 7));
                        }))
                .build()
                .start(ServerConfig.defaults()
                        .withPort(0)
                        .withDataDir(dataDir.resolve("data"))
                        .withMaxBodyBytes(LIMIT)
                        .withShutdownTimeout(Duration.ofSeconds(2)));
    }

    @AfterAll
    static void stop() {
        server.stop();
    }

    @Test
    void startsOnAnEphemeralPortAndCreatesTheDataDir() {
        assertThat(server.port()).isPositive();
        assertThat(server.url()).isEqualTo("http://127.0.0.1:" + server.port());
        assertThat(dataDir.resolve("data")).isDirectory();
        assertThat(server.config().dataDir()).isAbsolute();
    }

    @Test
    void healthReportsStatusVersionAndUptime() {
        HttpResponse<String> response = get(server, "/health");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/json"));
        JsonNode body = json(response);
        assertThat(body.get("status").asText()).isEqualTo("ok");
        assertThat(body.get("version").asText()).isNotBlank().doesNotContain("${");
        assertThat(body.get("uptimeSeconds").isIntegralNumber()).isTrue();
        assertThat(body.get("uptimeSeconds").asLong()).isGreaterThanOrEqualTo(0);
        assertThat(body.get("components").get("http").get("status").asText()).isEqualTo("ok");
        assertThat(body.get("components").get("storage").get("status").asText()).isEqualTo("ok");
        // The handler's own time, for clients that separate server time from the network.
        assertThat(response.headers().firstValue("Server-Timing")).hasValueSatisfying(
                t -> assertThat(t).matches("app;dur=\\d+\\.\\d{3}"));
    }

    @Test
    void metricsExposeJvmAndHttpMetersInPrometheusFormat() {
        get(server, "/health");
        get(server, "/no/such/route");

        HttpResponse<String> response = get(server, "/metrics");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("text/plain"));
        assertThat(response.body())
                .contains("jvm_memory_used_bytes")
                .contains("jvm_threads_live_threads")
                .contains("system_cpu_count");
        assertThat(response.body().lines().filter(line -> line.startsWith("http_server_requests_seconds_count")))
                .anySatisfy(line -> assertThat(line).contains("route=\"/health\"", "status=\"200\"", "method=\"GET\""))
                .anySatisfy(line -> assertThat(line).contains("route=\"unmatched\"", "status=\"404\""));
        // latency buckets per route: a p99 is histogram_quantile(0.99, ...) away
        assertThat(response.body().lines().filter(line -> line.startsWith("http_server_requests_seconds_bucket{")
                && line.contains("route=\"/health\"")))
                .hasSizeGreaterThan(10)
                .anySatisfy(line -> assertThat(line).contains("le=\"+Inf\""));
    }

    @Test
    void metricsAreOpenMetricsWhenTheScraperAsks() {
        get(server, "/health");
        HttpResponse<String> om = TestHttp.send(TestHttp.request(server, "/metrics")
                .header("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5").GET().build());
        assertThat(om.statusCode()).isEqualTo(200);
        assertThat(om.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/openmetrics-text"));
        assertThat(om.body().strip()).endsWith("# EOF");
        assertThat(om.body()).contains("# TYPE http_server_requests_seconds histogram");
    }

    @Test
    void unknownRouteIsA404InTheErrorShape() {
        HttpResponse<String> response = get(server, "/no/such/route");

        assertThat(response.statusCode()).isEqualTo(404);
        assertErrorShape(response, "not_found");
        assertThat(json(response).at("/error/details/path").asText()).isEqualTo("/no/such/route");
    }

    @Test
    void wrongMethodOnAKnownRouteIsA405WithAllowHeader() {
        HttpResponse<String> response = post(server, "/health", BodyPublishers.ofString("{}"));

        assertThat(response.statusCode()).isEqualTo(405);
        assertErrorShape(response, "method_not_allowed");
        assertThat(response.headers().firstValue("Allow")).hasValueSatisfying(allow -> assertThat(allow).contains("GET"));
    }

    @Test
    void validJsonIsAccepted() {
        HttpResponse<String> response = post(server, "/test/echo", BodyPublishers.ofString("{\"text\":\"hi\"}"));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(json(response).get("text").asText()).isEqualTo("hi");
    }

    @Test
    void declaredOversizedBodyIsA413() {
        HttpResponse<String> response = post(server, "/test/echo", BodyPublishers.ofString(jsonOfSize(4 * LIMIT)));

        assertThat(response.statusCode()).isEqualTo(413);
        assertErrorShape(response, "payload_too_large");
        assertThat(json(response).at("/error/details/limitBytes").asLong()).isEqualTo(LIMIT);
    }

    @Test
    void chunkedOversizedBodyIsA413WhenRead() {
        byte[] body = jsonOfSize(4 * LIMIT).getBytes();
        // No length known up front: the client sends it chunked, so only the bytes read can tell.
        HttpResponse<String> response = post(server, "/test/echo",
                BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body)));

        assertThat(response.statusCode()).isEqualTo(413);
        assertErrorShape(response, "payload_too_large");
    }

    @Test
    void malformedJsonIsA400() {
        HttpResponse<String> response = post(server, "/test/echo", BodyPublishers.ofString("{\"text\": "));

        assertThat(response.statusCode()).isEqualTo(400);
        assertErrorShape(response, "bad_request");
        assertThat(json(response).at("/error/message").asText()).startsWith("Malformed JSON");
    }

    @Test
    void unknownJsonFieldIsA400NamingTheField() {
        HttpResponse<String> response = post(server, "/test/echo", BodyPublishers.ofString("{\"txet\":\"hi\"}"));

        assertThat(response.statusCode()).isEqualTo(400);
        assertErrorShape(response, "bad_request");
        assertThat(json(response).at("/error/details/field").asText()).isEqualTo("txet");
        assertThat(response.body()).doesNotContain("dev.attend");
    }

    @Test
    void unexpectedExceptionIsA500WithoutInternals() {
        HttpResponse<String> response = get(server, "/test/boom");

        assertThat(response.statusCode()).isEqualTo(500);
        assertErrorShape(response, "internal");
        assertThat(json(response).at("/error/details/errorId").asText()).isNotBlank();
        assertThat(response.body()).doesNotContain("secret", "Exception", "at dev.attend", "java.");
    }

    @Test
    void javaLangErrorInAHandlerIsAlsoA500InTheErrorShape() {
        HttpResponse<String> response = get(server, "/test/assert");

        assertThat(response.statusCode()).isEqualTo(500);
        assertErrorShape(response, "internal");
        assertThat(response.body()).doesNotContain("secret", "AssertionError");
    }

    @Test
    void apiExceptionChoosesStatusCodeMessageAndDetails() {
        HttpResponse<String> response = get(server, "/test/conflict");

        assertThat(response.statusCode()).isEqualTo(409);
        JsonNode error = assertErrorShape(response, "already_exists");
        assertThat(error.get("message").asText()).isEqualTo("Item 7 already exists");
        assertThat(error.at("/details/id").asInt()).isEqualTo(7);
    }

    @Test
    void requestsJettyRejectsBeforeJavalinAlsoGetTheErrorShape() throws IOException {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

            assertThat(response).startsWith("HTTP/1.1 400");
            assertThat(response).containsIgnoringCase("content-type: application/json");
            String body = response.substring(response.indexOf("\r\n\r\n") + 4);
            JsonNode error = Json.MAPPER.readTree(body).get("error");
            assertThat(error.get("code").asText()).isEqualTo("bad_request");
            assertThat(error.get("details").isObject()).isTrue();
        }
    }

    /** Checks the one error shape and returns its "error" object. */
    static JsonNode assertErrorShape(HttpResponse<String> response, String code) {
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/json"));
        JsonNode body = json(response);
        assertThat(body.fieldNames()).toIterable().containsExactly("error");
        JsonNode error = body.get("error");
        assertThat(error.fieldNames()).toIterable().containsExactlyInAnyOrder("code", "message", "details");
        assertThat(error.get("code").asText()).isEqualTo(code);
        assertThat(error.get("message").asText()).isNotBlank();
        assertThat(error.get("details").isObject()).isTrue();
        return error;
    }

    private static String jsonOfSize(long size) {
        String prefix = "{\"text\":\"";
        return prefix + "x".repeat((int) size - prefix.length() - 2) + "\"}";
    }
}
