package dev.attend.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A short decode through an Attend KvSession gives what exact attention in Java gives. */
class SessionDecodeTest {

    private static final int PREFILL = 1024;
    private static final int DECODE = 64;

    private static double[] logProbs(ByteLm lm, ByteLm.Prefill p, byte[] doc, LayerAttention attention) {
        double[] out = new double[DECODE];
        out[0] = ByteLm.log2Prob(p.lastLogits(), doc[PREFILL] & 0xff);
        for (int t = PREFILL; t < PREFILL + DECODE - 1; t++) {
            out[t - PREFILL + 1] = ByteLm.log2Prob(lm.decode(doc[t] & 0xff, t, attention), doc[t + 1] & 0xff);
        }
        return out;
    }

    private static double worst(double[] a, double[] b) {
        double w = 0;
        for (int i = 0; i < a.length; i++) {
            w = Math.max(w, Math.abs(a[i] - b[i]));
        }
        return w;
    }

    @Test
    void fullAndStreamingSessionsEqualExactAttention() throws Exception {
        Optional<Path> dir = ByteLmTest.modelDir();
        assumeTrue(dir.isPresent(), "no shared model");
        ByteLm lm = ByteLm.load(dir.get());
        byte[] doc = Files.readAllBytes(dir.get().resolve("docs/doc00.txt"));
        ByteLm.Prefill p = lm.prefill(doc, PREFILL, false);
        for (String policy : new String[] {"full", "streaming"}) {
            double[] exact;
            try (ExactAttention e = new ExactAttention(lm.config(), p, policy.equals("full") ? ExactAttention.Rule.full()
                    : ExactAttention.Rule.streaming(128, 512), PREFILL + DECODE)) {
                exact = logProbs(lm, p, doc, e);
            }
            double[] session;
            try (SessionAttention s = new SessionAttention(lm.config(), policy, 100, 0, 128, 512, 2)) {
                s.prefill(p);
                s.awaitReady(120_000);
                session = logProbs(lm, p, doc, s);
                assertThat(s.flatAnswers()).isZero();
                assertThat(s.policies().values()).containsOnly(policy);
            }
            double w = worst(exact, session);
            double bpb = -Arrays.stream(session).average().orElseThrow();
            System.out.printf("%s: session vs exact max |log2 p diff| %.3e over %d bytes; %.4f bits/byte%n", policy, w, DECODE, bpb);
            assertThat(w).isLessThan(1e-3);
        }
    }
}
