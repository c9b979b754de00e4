package dev.attend.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.attend.gpu.SharedData;
import dev.attend.lm.LmEval;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class LmDemoTest {

    private static String run(Optional<Path> model, int prefill, int decode, int generate) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        LmDemo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), model, LmDemo.DOCUMENT, prefill, decode, generate);
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void withoutTheModelTheStepSaysWhyInOneLineAndReturns() throws Exception {
        String out = run(Optional.empty(), LmDemo.PREFILL, LmDemo.DECODE, LmDemo.GENERATE);
        assertThat(out.strip().lines()).singleElement().asString().contains("skipped", "models/bytelm-gqa");
    }

    @Test
    void aShortDecodePrintsFiniteBitsPerByteAndFullEqualsExactAttention() throws Exception {
        Optional<Path> model = SharedData.resolve("models/bytelm-gqa");
        if (model.isEmpty()) {
            System.out.println("[skipped] no ../shared/data/models/bytelm-gqa beside the checkout");
        }
        assumeTrue(model.isPresent(), "no shared model");
        int prefill = 1_024;
        int decode = 32;
        String out = run(model, prefill, decode, 8);
        System.out.print(out);
        Map<String, Double> bits = new HashMap<>();
        Matcher m = Pattern.compile("(?m)^  (full|streaming|auto) +(\\S+) +[\\d,]+ \\(").matcher(out);
        while (m.find()) {
            bits.put(m.group(1), Double.valueOf(m.group(2)));
        }
        assertThat(bits.keySet()).containsExactlyInAnyOrder("full", "streaming", "auto");
        assertThat(bits.values()).allMatch(Double::isFinite);
        assertThat(out).contains("its heads chose", "8 bytes generated", "./attend lm eval --model");

        LmEval.Options o = LmEval.Options.defaults(model.get()).withDocs(List.of(LmDemo.DOCUMENT)).withPolicies(List.of("exact:full"))
                .withLengths(prefill, decode);
        double exact = LmEval.run(o, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)).rows().getFirst().bitsPerByte();
        assertThat(bits.get("full")).isCloseTo(exact, Offset.offset(1e-3));
    }
}
