package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.lm.ByteLm;
import dev.attend.lm.ByteLmConfig;
import dev.attend.lm.HttpAttention;
import dev.attend.retrieval.KvDurability;
import dev.attend.server.kv.KvSessionRoutes;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HttpAttention} (its {@code Http11Client}) against a real {@code attend serve}: the server's refusals come back
 * as exceptions that carry its status and message, the connection stays usable after them, a bearer token is sent,
 * and a server that went away is an I/O error that names the request.
 */
class HttpAttentionErrorsTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("HttpAttentionErrorsTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    private static final ByteLmConfig TINY = new ByteLmConfig("tiny", 256, 2, 48, 6, 2, 8, 16, 10_000, 1e-5, 0.35f, Map.of(), Map.of());
    private static final int PREFILL = 40;
    private static final String TOKEN = "http-attention-test-token-0123";

    @TempDir
    Path dataDir;

    private Scorer scorer;
    private KvSessionRoutes kv;
    private AttendServer server;

    private String start(String authToken) throws Exception {
        scorer = Scorers.create("simd");
        kv = new KvSessionRoutes(dataDir.resolve("kv"), scorer, Duration.ZERO, KvDurability.PROCESS);
        ServerConfig config = ServerConfig.defaults().withPort(0).withDataDir(dataDir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2));
        server = AttendServer.builder().routes(kv).build().start(authToken == null ? config : config.withAuthToken(authToken));
        return server.url();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop();
        }
        if (kv != null) {
            kv.close();
        }
        if (scorer != null) {
            scorer.close();
        }
    }

    private static float[][] rows(SplittableRandom r, int n, int d) {
        float[][] out = new float[n][d];
        for (float[] row : out) {
            for (int i = 0; i < d; i++) {
                row[i] = (float) (r.nextDouble() * 2 - 1);
            }
        }
        return out;
    }

    private static float[] flat(SplittableRandom r, int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return out;
    }

    private static ByteLm.Prefill prefill(SplittableRandom r) {
        int d = TINY.headDim();
        List<ByteLm.LayerKv> layers = new ArrayList<>();
        for (int l = 0; l < TINY.layers(); l++) {
            layers.add(new ByteLm.LayerKv(PREFILL, TINY.heads(), TINY.kvHeads(), d, flat(r, PREFILL * TINY.heads() * d),
                    flat(r, PREFILL * TINY.kvHeads() * d), flat(r, PREFILL * TINY.kvHeads() * d)));
        }
        return new ByteLm.Prefill(PREFILL, new float[1][256], layers, 0, 0);
    }

    /** One layer's decode step at {@code position}. */
    private static float[][] step(HttpAttention h, SplittableRandom r, int layer, int position) {
        return h.attend(layer, position, rows(r, TINY.kvHeads(), TINY.headDim()), rows(r, TINY.kvHeads(), TINY.headDim()),
                rows(r, TINY.heads(), TINY.headDim()));
    }

    @Test
    void refusalsCarryTheServersStatusAndMessage_andTheClientGoesOn() throws Exception {
        String base = start(null);
        SplittableRandom r = new SplittableRandom(SEED + 5);
        try (HttpAttention h = new HttpAttention(base, null, TINY, "full", 10, 0, 4, 8)) {
            h.prefill(prefill(r));
            float[][] out = step(h, r, 0, PREFILL);
            assertThat(out).hasDimensions(TINY.heads(), TINY.headDim());

            assertThatThrownBy(() -> step(h, r, 0, PREFILL + 5)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("decode of layer 0 at " + (PREFILL + 5))
                    .hasMessageContaining("/decode-layer answered 400")
                    .hasMessageContaining("out of order");
            assertThatThrownBy(() -> step(h, r, 7, PREFILL)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("answered 400").hasMessageContaining("layer 7");

            step(h, r, 0, PREFILL + 1); // refused requests changed nothing; the same client goes on
            step(h, r, 1, PREFILL);
            assertThat(h.meanKeysScanned()).isPositive();

            // the session deleted under the client: a 404 with the server's message
            HttpResponse<String> deleted = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(h.sessionUrl())).DELETE().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(deleted.statusCode()).isEqualTo(204);
            assertThatThrownBy(() -> step(h, r, 0, PREFILL + 2)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("answered 404").hasMessageContaining("no KV session");
            assertThatThrownBy(h::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("deleting the session")
                    .hasMessageContaining("answered 404");
        }
    }

    @Test
    void aBadSessionIsRefusedAtCreation() throws Exception {
        String base = start(null);
        assertThatThrownBy(() -> new HttpAttention(base, null, TINY, "no-such-policy", 10, 0, 4, 8))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("creating a KV session: POST /v1/kv/sessions answered 400")
                .hasMessageContaining("no-such-policy");
    }

    @Test
    void theBearerTokenIsSent() throws Exception {
        String base = start(TOKEN);
        assertThatThrownBy(() -> new HttpAttention(base, null, TINY, "full", 10, 0, 4, 8)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("answered 401");
        assertThatThrownBy(() -> new HttpAttention(base, "wrong-token-of-enough-length", TINY, "full", 10, 0, 4, 8))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("answered 401");
        SplittableRandom r = new SplittableRandom(SEED + 6);
        try (HttpAttention h = new HttpAttention(base, TOKEN, TINY, "streaming", 10, 0, 4, 8)) {
            h.prefill(prefill(r));
            step(h, r, 0, PREFILL);
            assertThat(h.memoryBytes()).isPositive();
            assertThat(h.policies()).hasSize(TINY.layers() * TINY.kvHeads());
        }
    }

    @Test
    void aServerThatWentAwayIsAnIoErrorNamingTheRequest() throws Exception {
        String base = start(null);
        SplittableRandom r = new SplittableRandom(SEED + 7);
        HttpAttention h = new HttpAttention(base, null, TINY, "full", 10, 0, 4, 8);
        h.prefill(prefill(r));
        step(h, r, 0, PREFILL); // the connection is kept
        server.stop();
        assertThatThrownBy(() -> step(h, r, 1, PREFILL)).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("decode of layer 1 at " + PREFILL).hasMessageContaining("/decode-layer");
        assertThatThrownBy(h::close).isInstanceOf(UncheckedIOException.class).hasMessageContaining("deleting the session");
    }
}
