package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.retrieval.KvDurability;
import dev.attend.server.kv.KvSessionRoutes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python client ({@code clients/python}) against a real server: its unittest suite, which compares the server's
 * answers with numpy attention. Skipped, and said so, where python3 with numpy is missing (CI installs both).
 */
class PythonClientTest {

    private static final Path CLIENT = Path.of("..", "clients", "python");

    @TempDir
    Path dir;

    private static boolean pythonWithNumpy() throws InterruptedException {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import numpy").redirectErrorStream(true).start();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void theClientsTestsPassAgainstARunningServer() throws Exception {
        boolean ready = pythonWithNumpy();
        if (!ready) {
            System.out.println("skipped: python3 with numpy not found (the Python client's tests need them)");
        }
        Assumptions.assumeTrue(ready, "python3 with numpy not found");
        try (Scorer scorer = Scorers.create("simd")) {
            KvSessionRoutes kv = new KvSessionRoutes(dir.resolve("kv"), scorer, Duration.ZERO, KvDurability.PROCESS);
            AttendServer server = AttendServer.builder().routes(kv).build()
                    .start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
            try {
                Path log = dir.resolve("python.log");
                ProcessBuilder pb = new ProcessBuilder(List.of("python3", "-m", "unittest", "-v", "test_attend_client"))
                        .directory(CLIENT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
                pb.environment().put("ATTEND_URL", "http://127.0.0.1:" + server.port());
                pb.environment().put("PYTHONDONTWRITEBYTECODE", "1"); // no __pycache__ in the working tree
                Process p = pb.start();
                boolean finished = p.waitFor(300, TimeUnit.SECONDS);
                if (!finished) {
                    p.destroyForcibly();
                }
                String out = Files.readString(log, StandardCharsets.UTF_8);
                System.out.println(out);
                assertThat(finished).as("the Python tests finished within 300 s").isTrue();
                assertThat(p.exitValue()).as(out).isZero();
                assertThat(out).contains("Ran 4 tests", "OK");
            } finally {
                server.stop();
                kv.close();
            }
        }
    }
}
