package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GracefulShutdownTest {

    @TempDir
    Path dataDir;

    @Test
    void inFlightRequestCompletesDuringStopAndNewConnectionsAreRefused() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        AtomicReference<AttendServer> self = new AtomicReference<>();
        AttendServer server = AttendServer.builder()
                .routes(routes -> routes.get("/test/slow", ctx -> {
                    entered.countDown();
                    // Finish only once the server is stopping, so the request is certainly in flight then.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                    while (!self.get().isStopping() && System.nanoTime() < deadline) {
                        Thread.sleep(5);
                    }
                    ctx.result("done");
                }))
                .build();
        self.set(server);
        server.start(ServerConfig.defaults().withPort(0).withDataDir(dataDir)
                .withShutdownTimeout(Duration.ofSeconds(5)));
        String url = server.url();

        CompletableFuture<HttpResponse<String>> slow = TestHttp.CLIENT.sendAsync(
                TestHttp.request(server, "/test/slow").GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(entered.await(5, TimeUnit.SECONDS)).isTrue();

        server.stop(); // blocks until the in-flight request is done

        HttpResponse<String> response = slow.get(5, TimeUnit.SECONDS);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("done");
        assertThatThrownBy(() -> TestHttp.CLIENT.send(
                HttpRequest.newBuilder(URI.create(url + "/health")).build(),
                HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(ConnectException.class);
    }

    @Test
    void requestOutlivingTheShutdownTimeoutIsCutOffAndStopStillReturns() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        AttendServer server = AttendServer.builder()
                .routes(routes -> routes.get("/test/stuck", ctx -> {
                    entered.countDown();
                    Thread.sleep(TimeUnit.SECONDS.toMillis(30)); // interrupted when Jetty gives up on it
                    ctx.result("too late");
                }))
                .build()
                .start(ServerConfig.defaults().withPort(0).withDataDir(dataDir)
                        .withShutdownTimeout(Duration.ofMillis(100)));
        String url = server.url();
        CompletableFuture<HttpResponse<String>> stuck = TestHttp.CLIENT.sendAsync(
                TestHttp.request(server, "/test/stuck").GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(entered.await(5, TimeUnit.SECONDS)).isTrue();

        server.stop(); // must not throw, nor wait for the 30 s handler

        assertThatThrownBy(() -> stuck.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
        assertThatThrownBy(() -> TestHttp.CLIENT.send(HttpRequest.newBuilder(URI.create(url + "/health")).build(),
                HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(ConnectException.class);
    }

    @Test
    void stopIsIdempotentAndAnInstanceServesOnce() {
        AttendServer server = new AttendServer()
                .start(ServerConfig.defaults().withPort(0).withDataDir(dataDir));
        server.stop();
        server.stop();

        assertThatThrownBy(() -> server.start(ServerConfig.defaults().withPort(0).withDataDir(dataDir)))
                .isInstanceOf(IllegalStateException.class);
    }
}
