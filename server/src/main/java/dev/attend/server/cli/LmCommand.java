package dev.attend.server.cli;

import dev.attend.lm.ByteLm;
import dev.attend.lm.LmChart;
import dev.attend.lm.LmEval;
import dev.attend.lm.SessionAttention;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code attend lm ...}: a real language model (bytelm-gqa) whose decode attention goes through Attend. */
@Command(name = "lm", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
        description = "A byte-level language model decoding through Attend's KV sessions: bits per byte per policy, generation.",
        subcommands = {LmCommand.Eval.class, LmCommand.Generate.class})
public final class LmCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    static List<String> list(String csv) {
        return csv == null ? List.of() : Arrays.stream(csv.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    @Command(name = "eval", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
            description = "The reference protocol (prefill 30,720 bytes with full attention, decode 2,048 teacher-forced through a KV "
                    + "session): bits per byte per policy and budget, the share of the streaming-to-full gap recovered, keys scanned, "
                    + "prefill-to-ready, decode time per byte, memory.")
    static final class Eval implements Callable<Integer> {

        @Option(names = "--model", paramLabel = "DIR", required = true, description = "The model directory (config.json, weights_part*.npz).")
        Path model;

        @Option(names = "--docs", paramLabel = "DIR", description = "The documents (default: the model directory's docs/).")
        Path docs;

        @Option(names = "--doc", paramLabel = "NAME,...", description = "Which documents (file names without .txt; default: all).")
        String doc;

        @Option(names = "--policy", paramLabel = "P,...", defaultValue = "full,streaming,retrieval",
                description = "KV head policies (full, streaming, retrieval, retrieval+tail, recycled, block, auto, ...; default ${DEFAULT-VALUE}).")
        String policy;

        @Option(names = "--budget", paramLabel = "N,...", defaultValue = "0",
                description = "Distance computations per search (0: the session's default, 12 sqrt(N)).")
        String budget;

        @Option(names = "--prefill", paramLabel = "BYTES", defaultValue = "30720", description = "Prefill length (default ${DEFAULT-VALUE}).")
        int prefill;

        @Option(names = "--decode", paramLabel = "BYTES", defaultValue = "2048", description = "Decoded bytes (default ${DEFAULT-VALUE}).")
        int decode;

        @Option(names = "--json", paramLabel = "FILE", description = "Write the rows and summaries as JSON.")
        Path json;

        @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw the gap recovered against the decode time per byte as a PNG,"
                + " one point per policy and budget.")
        Path plot;

        @Option(names = "--over-http", paramLabel = "URL", description = "Decode through the KV sessions of a running attend serve at URL"
                + " (e.g. http://127.0.0.1:8080; start it with --kv-durability process for speed), one decode-layer call per layer and byte,"
                + " as a client would; the bearer token from ATTEND_AUTH_TOKEN. Default: a KV session in this process.")
        String overHttp;

        @Spec
        CommandSpec spec;

        /** Refuses an output path that cannot be written now, not after an evaluation of minutes. */
        private void checkOutput(String option, Path file) {
            if (file != null) {
                try {
                    LmChart.checkTarget(file);
                } catch (IOException e) {
                    throw new picocli.CommandLine.ParameterException(spec.commandLine(), option + ": " + e.getMessage());
                }
            }
        }

        @Override
        public Integer call() throws Exception {
            checkOutput("--json", json);
            checkOutput("--plot", plot);
            LmEval.Options o = LmEval.Options.defaults(model)
                    .withDocs(list(doc).stream().map(n -> n.endsWith(".txt") ? n : n + ".txt").toList()).withPolicies(list(policy))
                    .withBudgets(list(budget).stream().map(Integer::valueOf).toList()).withLengths(prefill, decode);
            if (docs != null) {
                o = new LmEval.Options(o.modelDir(), docs, o.docs(), o.prefill(), o.decode(), o.policies(), o.budgets(), o.topK(), o.sinks(),
                        o.window(), o.buildThreads(), o.readyTimeoutSeconds());
            }
            o = o.withOverHttp(overHttp);
            PrintWriter out = spec.commandLine().getOut();
            PrintStream progress = new PrintStream(new OutputStream() {
                @Override
                public void write(int b) {
                    out.write(b);
                }

                @Override
                public void flush() {
                    out.flush();
                }
            }, true, StandardCharsets.UTF_8);
            LmEval.Result r = LmEval.run(o, progress);
            progress.flush();
            if (json != null) {
                Files.writeString(json, r.toJson());
                out.println("wrote " + json);
            }
            if (plot != null) {
                PrintWriter err = spec.commandLine().getErr();
                for (LmEval.Summary s : LmChart.write(r, plot)) {
                    err.printf(Locale.ROOT, "--plot: %s%s left out: no recovered share (gap from %s)%n", s.policy(),
                            s.budget() > 0 ? " @" + s.budget() : "", s.gapSource());
                }
                err.flush();
                out.println("wrote " + plot);
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
            description = "Continue a file: its bytes are the prefill, then each new byte is sampled and decoded through a KV session; "
                    + "prints the bytes as they come, then the time per byte.")
    static final class Generate implements Callable<Integer> {

        @Option(names = "--model", paramLabel = "DIR", required = true, description = "The model directory.")
        Path model;

        @Option(names = "--prompt", paramLabel = "FILE", required = true, description = "The bytes to continue.")
        Path prompt;

        @Option(names = "--bytes", paramLabel = "N", defaultValue = "200", description = "Bytes to generate (default ${DEFAULT-VALUE}).")
        int bytes;

        @Option(names = "--policy", paramLabel = "P", defaultValue = "auto", description = "The KV head policy (default ${DEFAULT-VALUE}).")
        String policy;

        @Option(names = "--temperature", paramLabel = "T", defaultValue = "0.8",
                description = "Sampling temperature; 0 takes the likeliest byte (default ${DEFAULT-VALUE}).")
        double temperature;

        @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Sampling seed (default ${DEFAULT-VALUE}).")
        long seed;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (bytes < 1 || !(temperature >= 0)) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--bytes must be >= 1 and --temperature >= 0");
            }
            ByteLm lm = ByteLm.load(model);
            byte[] text = Files.readAllBytes(prompt);
            if (text.length == 0) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "the prompt file " + prompt + " is empty");
            }
            PrintWriter err = spec.commandLine().getErr();
            LmEval.Options d = LmEval.Options.defaults(model);
            long t0 = System.nanoTime();
            ByteLm.Prefill p = lm.prefill(text, text.length, false);
            try (SessionAttention attention = new SessionAttention(lm.config(), policy, d.topK(), 0, d.sinks(), d.window(), d.buildThreads())) {
                attention.prefill(p);
                attention.awaitReady(d.readyTimeoutSeconds() * 1000);
                err.printf(Locale.ROOT, "prefill of %,d bytes and the session's indexes: %.1f s (policies %s)%n", text.length,
                        (System.nanoTime() - t0) / 1e9, attention.policies().values().stream().distinct().toList());
                err.flush();
                SplittableRandom rnd = new SplittableRandom(seed);
                float[] logits = p.lastLogits();
                PrintStream out = System.out;
                long start = System.nanoTime();
                for (int i = 0; i < bytes; i++) {
                    int next = ByteLm.sample(logits, temperature, rnd);
                    out.write(next);
                    out.flush();
                    logits = lm.decode(next, text.length + i, attention);
                }
                double ms = (System.nanoTime() - start) / 1e6 / bytes;
                out.println();
                err.printf(Locale.ROOT, "%d bytes, %.1f ms per byte (every layer through the KV session)%n", bytes, ms);
                err.flush();
            }
            return 0;
        }
    }
}
