package dev.attend.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lm eval chart is drawn for real (headless) and read back; summaries without a recovered share are left out. */
class LmChartTest {

    @TempDir
    Path tmp;

    private static LmEval.Summary summary(String policy, int budget, double recovered, double decodeMs) {
        return new LmEval.Summary(policy, budget, 2, 2.0 - recovered * 0.1, Double.NaN, recovered, "this run", 100, 1.5, decodeMs,
                decodeMs * 2, 1L << 20);
    }

    private static LmEval.Result result(List<LmEval.Summary> summaries) {
        LmEval.Options o = LmEval.Options.defaults(Path.of("bytelm-gqa")).withLengths(2048, 64);
        List<LmEval.Row> rows = new ArrayList<>();
        for (String doc : new String[] {"doc00", "doc01"}) {
            for (LmEval.Summary s : summaries) {
                rows.add(new LmEval.Row(doc, s.policy(), s.budget(), s.bitsPerByte(), Double.NaN, 100, 1, 0.1, 0.4, s.decodeMsP50(),
                        s.decodeMsP99(), s.memoryBytes(), Map.of()));
            }
        }
        return new LmEval.Result(o, rows, summaries);
    }

    /** Pixels that are not (near) white. */
    private static long inked(BufferedImage img) {
        long n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                int p = img.getRGB(x, y);
                if (((p >> 16) & 0xff) < 240 || ((p >> 8) & 0xff) < 240 || (p & 0xff) < 240) {
                    n++;
                }
            }
        }
        return n;
    }

    private static boolean has(BufferedImage img, int rgb) {
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                if ((img.getRGB(x, y) & 0xffffff) == rgb) {
                    return true;
                }
            }
        }
        return false;
    }

    @Test
    void drawsEveryPolicyAndBudget() throws IOException {
        LmEval.Result r = result(List.of(summary("full", 0, 1.0, 2.0), summary("streaming", 0, 0.0, 0.5),
                summary("retrieval", 1000, 0.62, 0.9), summary("retrieval", 4000, 0.91, 3.1), summary("auto", 0, 0.8, 30)));
        Path png = tmp.resolve("lm.png");
        Files.writeString(png, "an older chart");

        List<LmEval.Summary> left = LmChart.write(r, png);

        assertThat(left).isEmpty();
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img).isNotNull();
        assertThat(img.getWidth()).isEqualTo(900);
        assertThat(img.getHeight()).isEqualTo(640);
        assertThat(inked(img)).isGreaterThan(5_000);
        assertThat(has(img, 0xd62728)).as("retrieval's red").isTrue();
        assertThat(has(img, 0xff7f0e)).as("streaming's orange").isTrue();
        try (var files = Files.list(tmp)) {
            assertThat(files.toList()).containsExactly(png); // the temporary file was moved, not left
        }
    }

    @Test
    void summariesWithoutARecoveredShareAreLeftOut() throws IOException {
        // retrieval alone, on a protocol reference.json does not cover: no gap to recover
        LmEval.Summary nan = summary("retrieval", 0, Double.NaN, 1.2);
        LmEval.Summary ok = summary("retrieval+tail", 0, 0.7, 1.4);
        Path png = tmp.resolve("some.png");

        assertThat(LmChart.write(result(List.of(nan, ok)), png)).containsExactly(nan);
        assertThat(inked(ImageIO.read(png.toFile()))).isGreaterThan(5_000);

        Path none = tmp.resolve("none.png");
        assertThat(LmChart.write(result(List.of(nan)), none)).containsExactly(nan);
        BufferedImage img = ImageIO.read(none.toFile());
        assertThat(img.getWidth()).isEqualTo(900);
        assertThat(inked(img)).as("the title and axes").isGreaterThan(500);
    }

    @Test
    void aMissingFolderIsNamedBeforeAnythingIsDrawn() {
        Path png = tmp.resolve("no-such-folder/lm.png");
        assertThatThrownBy(() -> LmChart.checkTarget(png)).isInstanceOf(IOException.class).hasMessageContaining("no-such-folder")
                .hasMessageContaining("does not exist");
        assertThatThrownBy(() -> LmChart.checkTarget(tmp)).isInstanceOf(IOException.class).hasMessageContaining("is a folder");
    }
}
