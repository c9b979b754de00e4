package dev.attend.server;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.retrieval.KvDurability;
import dev.attend.server.kv.KvSessionRoutes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real server with the KV routes for a test class ({@code @RegisterExtension static final KvTestServer KV = new
 * KvTestServer();}): before its tests, the SIMD scorer, the routes over a fresh folder with {@code process} durability and
 * no time-to-live, and the server on a free loopback port; after them, all closed and the folder deleted. And the
 * vectors such tests send.
 */
final class KvTestServer implements BeforeAllCallback, AfterAllCallback {

    private Path dir;
    private Scorer scorer;
    private KvSessionRoutes kv;
    private AttendServer server;

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        dir = Files.createTempDirectory("attend-kv-test");
        scorer = Scorers.create("simd");
        kv = new KvSessionRoutes(dir.resolve("kv"), scorer, Duration.ZERO, KvDurability.PROCESS);
        server = AttendServer.builder().routes(kv).build()
                .start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
    }

    AttendServer server() {
        return server;
    }

    /** Gaussian vectors rounded to float16, so that float32 and float16 bodies carry the same numbers. */
    static float[][] float16Rows(SplittableRandom rnd, int n, int d) {
        float[][] out = new float[n][d];
        for (float[] r : out) {
            for (int c = 0; c < d; c++) {
                r[c] = Float.float16ToFloat(Float.floatToFloat16((float) rnd.nextGaussian()));
            }
        }
        return out;
    }

    @Override
    public void afterAll(ExtensionContext context) throws IOException {
        server.stop();
        kv.close();
        scorer.close();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
