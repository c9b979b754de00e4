package dev.attend.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import me.tongfei.progressbar.ProgressBar;
import org.junit.jupiter.api.Test;

class CliProgressTest {

    private static String waitFor(ByteArrayOutputStream bytes, String text) throws InterruptedException {
        for (int i = 0; i < 500 && !bytes.toString(StandardCharsets.UTF_8).contains(text); i++) {
            Thread.sleep(10);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void offATerminalProgressIsPlainLinesAtEachTenth() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (ProgressBar bar = CliProgress.start("train 10", 2000, " samples", true, false, out, 20)) {
            assertThat(waitFor(bytes, "train 10 0% (0 of 2,000 samples)")).contains("train 10 0% (0 of 2,000 samples)");
            bar.setExtraMessage("loss 0.5000"); // before the step: a look between the two would print the tenth without it
            bar.stepTo(1100);
            assertThat(waitFor(bytes, "loss 0.5000")).containsPattern("train 10 50% \\(1,100 of 2,000 samples\\), \\d+ s, loss 0.5000");
            Thread.sleep(100); // several more looks at the same tenth print nothing more
            bar.stepTo(2000);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertThat(text).doesNotContain("\r").doesNotContain("[").contains("train 10 100% (2,000 of 2,000 samples)");
        assertThat(text.lines().filter(l -> l.startsWith("train 10 50%"))).hasSize(1);
        assertThat(text.lines()).allMatch(l -> l.startsWith("train 10 "));
    }
}
