package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bearer-token authentication and the limit on requests handled at once, on a real server over loopback. */
class ServerProtectionTest {

    private static final String TOKEN = "s3cret-token-0123456789";
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path dir;

    @Test
    void aConfiguredTokenIsRequiredEverywhereButHealthAndNeverEchoed() throws Exception {
        AttendServer server = AttendServer.builder().routes(r -> r.get("/test/hello", ctx -> ctx.result("hi"))).build()
                .start(ServerConfig.defaults().withPort(0).withDataDir(dir).withAuthToken(TOKEN));
        try {
            assertThat(send(server, "/health", null).statusCode()).isEqualTo(200);
            for (String header : new String[] {null, "Bearer wrong-token-0123456789", "Basic " + TOKEN, "Bearer " + TOKEN + "x", "Bearer "}) {
                HttpResponse<String> r = send(server, "/test/hello", header);
                assertThat(r.statusCode()).as("Authorization: %s", header).isEqualTo(401);
                assertThat(r.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
                JsonNode body = TestHttp.json(r);
                assertThat(body.get("error").get("code").asText()).isEqualTo(ErrorCodes.UNAUTHORIZED);
                assertThat(r.body()).doesNotContain(TOKEN).doesNotContain("wrong-token");
            }
            assertThat(send(server, "/metrics", null).statusCode()).isEqualTo(401);
            HttpResponse<String> ok = send(server, "/test/hello", "Bearer " + TOKEN);
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.body()).isEqualTo("hi");
            assertThat(send(server, "/test/hello", "bearer " + TOKEN).statusCode()).as("the scheme is case-insensitive").isEqualTo(200);
            assertThat(server.config().toString()).doesNotContain(TOKEN).contains("authToken=(set)");
        } finally {
            server.stop();
        }
    }

    @Test
    void requestsOverTheLimitGet429AtOnceAndTheServerRecovers() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger entered = new AtomicInteger();
        AttendServer server = AttendServer.builder().routes(r -> r.get("/test/slow", ctx -> {
            entered.incrementAndGet();
            release.await(30, TimeUnit.SECONDS);
            ctx.result("done");
        })).build().start(ServerConfig.defaults().withPort(0).withDataDir(dir).withMaxConcurrentRequests(2));
        try {
            List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                held.add(client.sendAsync(request(server, "/test/slow", null), HttpResponse.BodyHandlers.ofString()));
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (entered.get() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(entered.get()).isEqualTo(2);
            HttpResponse<String> over = send(server, "/test/slow", null);
            assertThat(over.statusCode()).isEqualTo(429);
            assertThat(over.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(TestHttp.json(over).get("error").get("code").asText()).isEqualTo(ErrorCodes.TOO_MANY_REQUESTS);
            assertThat(send(server, "/health", null).statusCode()).as("health is not counted").isEqualTo(200);
            assertThat(send(server, "/metrics", null).body()).contains("attend_http_rejected_total");
            release.countDown();
            for (CompletableFuture<HttpResponse<String>> f : held) {
                assertThat(f.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            }
            assertThat(send(server, "/test/slow", null).statusCode()).as("the permits came back").isEqualTo(200);
        } finally {
            release.countDown();
            server.stop();
        }
    }

    @Test
    void badSettingsAreRefusedWithoutShowingTheToken() {
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of("ATTEND_AUTH_TOKEN", "short"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("at least 16").hasMessageNotContaining("short\"");
        assertThatThrownBy(() -> ServerConfigLoader.load(null, Map.of("ATTEND_MAX_CONCURRENT_REQUESTS", "0"), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("attend.max-concurrent-requests");
        ServerConfig c = ServerConfigLoader.load(null, Map.of("ATTEND_AUTH_TOKEN", TOKEN, "ATTEND_MAX_CONCURRENT_REQUESTS", "8"), Map.of());
        assertThat(c.authToken()).isEqualTo(TOKEN);
        assertThat(c.maxConcurrentRequests()).isEqualTo(8);
        assertThat(ServerConfig.defaults().authToken()).isNull();
        assertThat(ServerConfig.defaults().maxConcurrentRequests()).isEqualTo(ServerConfig.DEFAULT_MAX_CONCURRENT_REQUESTS);
    }

    private HttpRequest request(AttendServer server, String path, String authorization) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(30)).GET();
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return b.build();
    }

    private HttpResponse<String> send(AttendServer server, String path, String authorization) throws Exception {
        return client.send(request(server, path, authorization), HttpResponse.BodyHandlers.ofString());
    }
}
