package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.SharedData;
import dev.attend.lm.ByteLm;
import dev.attend.lm.HttpAttention;
import dev.attend.lm.LayerAttention;
import dev.attend.lm.SessionAttention;
import dev.attend.retrieval.KvDurability;
import dev.attend.server.kv.KvSessionRoutes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bytelm-gqa model decoding through {@code attend serve} as a client ({@link HttpAttention}: binary prefill, one
 * decode-layer call per layer and byte) gives what the same decode through an in-process {@link SessionAttention} gives.
 */
class LmHttpDecodeTest {

    private static final int PREFILL = 1024;
    private static final int DECODE = 32;

    @TempDir
    Path dataDir;

    private static double[] logProbs(ByteLm lm, ByteLm.Prefill p, byte[] doc, LayerAttention attention) {
        double[] out = new double[DECODE];
        out[0] = ByteLm.log2Prob(p.lastLogits(), doc[PREFILL] & 0xff);
        for (int t = PREFILL; t < PREFILL + DECODE - 1; t++) {
            out[t - PREFILL + 1] = ByteLm.log2Prob(lm.decode(doc[t] & 0xff, t, attention), doc[t + 1] & 0xff);
        }
        return out;
    }

    @Test
    void decodeOverHttpEqualsTheInProcessSession() throws Exception {
        Optional<Path> dir = SharedData.resolve("models/bytelm-gqa");
        if (dir.isEmpty()) {
            System.out.println("[skipped] no ../shared/data/models/bytelm-gqa beside the checkout");
        }
        assumeTrue(dir.isPresent(), "no shared model");
        ByteLm lm = ByteLm.load(dir.get());
        byte[] doc = Files.readAllBytes(dir.get().resolve("docs/doc00.txt"));
        ByteLm.Prefill p = lm.prefill(doc, PREFILL, false);
        Scorer scorer = Scorers.create("simd");
        KvSessionRoutes kv = new KvSessionRoutes(dataDir.resolve("kv"), scorer, Duration.ZERO, KvDurability.PROCESS);
        AttendServer server = AttendServer.builder().routes(kv).build()
                .start(ServerConfig.defaults().withPort(0).withDataDir(dataDir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
        try {
            String base = "http://127.0.0.1:" + server.port();
            for (String policy : new String[] {"full", "streaming"}) {
                double[] local;
                try (SessionAttention s = new SessionAttention(lm.config(), policy, 100, 0, 128, 512, 1)) {
                    s.prefill(p);
                    s.awaitReady(120_000);
                    local = logProbs(lm, p, doc, s);
                }
                double[] remote;
                long memory;
                double keys;
                try (HttpAttention h = new HttpAttention(base, lm.config(), policy, 100, 0, 128, 512)) {
                    h.prefill(p);
                    h.awaitReady(120_000);
                    remote = logProbs(lm, p, doc, h);
                    memory = h.memoryBytes();
                    keys = h.meanKeysScanned();
                    assertThat(h.policies().values()).containsOnly(policy);
                }
                double worst = 0;
                for (int i = 0; i < DECODE; i++) {
                    worst = Math.max(worst, Math.abs(local[i] - remote[i]));
                }
                System.out.printf("%s: over HTTP vs in process max |log2 p diff| %.3e over %d bytes; %.0f keys/attend, %,d bytes held%n",
                        policy, worst, DECODE, keys, memory);
                assertThat(worst).isLessThan(1e-4); // float noise of the scans' thread split: 2e-6 to 7e-6 seen
                assertThat(keys).isPositive();
                assertThat(memory).isPositive();
            }
        } finally {
            server.stop();
            kv.close();
            scorer.close();
        }
    }
}
