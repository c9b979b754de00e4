package dev.attend.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.attend.gpu.NpyReader;
import dev.attend.gpu.Precision;
import dev.attend.gpu.SharedData;
import dev.attend.gpu.VectorStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The forward pass against the model's check logits (the reference's numpy forward). */
class ByteLmTest {

    static Path model;
    static ByteLm lm;

    static Optional<Path> modelDir() {
        Optional<Path> dir = SharedData.resolve("models/bytelm-gqa");
        if (dir.isEmpty()) {
            System.out.println("[skipped] no ../shared/data/models/bytelm-gqa beside the checkout");
        }
        return dir;
    }

    @BeforeAll
    static void load() throws IOException {
        Optional<Path> dir = modelDir();
        if (dir.isPresent()) {
            model = dir.get();
            lm = ByteLm.load(model);
        }
    }

    @Test
    void loadsTheConfigurationAndEveryArray() {
        assumeTrue(lm != null, "no shared model");
        ByteLmConfig c = lm.config();
        assertThat(c.layers()).isEqualTo(6);
        assertThat(c.dim()).isEqualTo(384);
        assertThat(c.heads()).isEqualTo(6);
        assertThat(c.kvHeads()).isEqualTo(2);
        assertThat(c.group()).isEqualTo(3);
        assertThat(c.headDim()).isEqualTo(64);
        assertThat(c.attentionScale()).isEqualTo(0.125f);
        assertThat(c.normEps()).isEqualTo(1e-6);
        assertThat(lm.weights().parameters()).isEqualTo(9_638_784L);
        assertThat(lm.weights().shape("layers.5.w2")).containsExactly(384, 1024);
    }

    @Test
    void prefillLogitsEqualTheCheckLogitsAtPositions0To63() throws IOException {
        assumeTrue(lm != null, "no shared model");
        VectorStore check = NpyReader.read(model.resolve("check_logits.npy"), Precision.FLOAT32);
        byte[] doc = Files.readAllBytes(model.resolve("docs/doc00.txt"));
        ByteLm.Prefill p = lm.prefill(doc, 64, true);
        double worst = 0;
        for (int t = 0; t < 64; t++) {
            float[] want = check.row(t);
            for (int j = 0; j < 256; j++) {
                worst = Math.max(worst, Math.abs(p.logits()[t][j] - want[j]));
            }
        }
        System.out.printf("positions 0-63: max |logit - check| = %.3e%n", worst);
        assertThat(worst).isLessThan(1e-3);
    }

    @Test
    void decodeStepsEqualThePrefillsLogits() throws IOException {
        assumeTrue(lm != null, "no shared model");
        byte[] doc = Files.readAllBytes(model.resolve("docs/doc00.txt"));
        // prefill 200 positions; then positions 200..299 decoded one at a time with exact full attention must give
        // the logits a prefill of 300 gives
        ByteLm.Prefill whole = lm.prefill(doc, 300, true);
        ByteLm.Prefill head = lm.prefill(doc, 200, false);
        double worst = 0;
        try (ExactAttention exact = new ExactAttention(lm.config(), head, ExactAttention.Rule.full(), 300)) {
            for (int t = 200; t < 300; t++) {
                float[] lg = lm.decode(doc[t], t, exact);
                for (int j = 0; j < 256; j++) {
                    worst = Math.max(worst, Math.abs(lg[j] - whole.logits()[t][j]));
                }
            }
        }
        System.out.printf("decode vs prefill, positions 200-299: max |logit diff| = %.3e%n", worst);
        assertThat(worst).isLessThan(1e-3);
    }
}
