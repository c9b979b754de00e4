package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class BenchMainTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int bench(String... args) {
        out.reset();
        err.reset();
        return BenchMain.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void helpListsEveryHarness() {
        assertThat(bench("--help")).isZero();
        assertThat(out()).contains("scorer", "index", "jmh", "attention", "policies", "attention-http", "lm-http", "stream", "online",
                "recsys", "model", "plot");
        assertThat(bench("help", "index")).isZero();
        assertThat(out()).contains("--synthetic", "--budgets", "--no-id", "bytelm-pysrc/L5H4");
    }

    @Test
    void eachHarnessHasItsHelp() {
        for (String name : new String[] {"scorer", "index", "attention", "policies", "attention-http", "lm-http", "stream", "online",
            "recsys", "model", "plot"}) {
            assertThat(bench(name, "--help")).as(name).isZero();
            assertThat(out()).as(name).startsWith("Usage: bench " + name);
        }
    }

    @Test
    void usageErrorsExitWithTwo() {
        assertThat(bench()).isEqualTo(2);
        assertThat(err()).contains("Missing the benchmark");
        assertThat(bench("nosuch")).isEqualTo(2);
        assertThat(err()).contains("'nosuch'");
        assertThat(bench("index", "--synthetic", "1000", "--no-such-option")).isEqualTo(2);
        assertThat(err()).contains("Unknown option: '--no-such-option'");
        assertThat(bench("attention", "--synthetic", "3000", "--steps", "many")).isEqualTo(2);
        assertThat(err()).contains("'many' is not an int");
        assertThat(bench("stream", "--rate", "0")).isEqualTo(2);
        assertThat(err()).contains("every count must be >= 1");
        assertThat(bench("plot", "--json", "x.json")).isEqualTo(2);
        assertThat(err()).contains("--png");
    }
}
