package dev.attend.bench;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Entry point of the benchmark harnesses: {@code bench NAME [args]} ({@code ./attend bench NAME ...}), one picocli
 * subcommand per harness, each with its own {@code --help}.
 *
 * <ul>
 *   <li>{@code scorer}: top-k scoring throughput of every backend against memory bandwidth
 *       ({@link ScorerBench}); needs only attend-gpu, picocli and XChart on the class path.
 *   <li>{@code index}: vector indexes on real KV heads and synthetic OOD workloads: recall against scanned
 *       fraction ({@link IndexBench}).
 *   <li>{@code jmh [jmh args]}: the JMH micro-benchmarks of this module ({@code org.openjdk.jmh.Main}),
 *       forked JVMs getting the flags of conf/jvm.options.
 * </ul>
 */
@Command(name = "bench", description = "The benchmark harnesses (./attend bench NAME ...); NAME --help gives each one's options.")
public final class BenchMain implements Callable<Integer> {

    /** The harnesses, in the order {@code bench --help} lists them: each made on the streams it writes to. */
    private static final Map<String, BiFunction<PrintStream, PrintStream, Object>> BENCHES = new LinkedHashMap<>();

    static {
        // Lambdas, not constructor references: a harness's classes load only when it is made.
        BENCHES.put("scorer", (out, err) -> new ScorerCommand(out, err));
        BENCHES.put("index", (out, err) -> new IndexCommand(out, err));
        BENCHES.put("jmh", (out, err) -> new JmhCommand());
        BENCHES.put("attention", (out, err) -> new AttentionCommand(out, err));
        BENCHES.put("policies", (out, err) -> new PolicyBench(out, err));
        BENCHES.put("attention-http", (out, err) -> new AttentionHttpBench(out, err));
        BENCHES.put("lm-http", (out, err) -> new LmHttpBench(out, err));
        BENCHES.put("stream", (out, err) -> new StreamBench(out, err));
        BENCHES.put("online", (out, err) -> new OnlineBench(out, err));
        BENCHES.put("recsys", (out, err) -> new RecsysBench(out, err));
        BENCHES.put("model", (out, err) -> new ModelBench(out, err));
        BENCHES.put("kv-log", (out, err) -> new KvLogBench(out, err));
        BENCHES.put("kv-cluster", (out, err) -> new KvClusterBench(out, err));
        BENCHES.put("plot", (out, err) -> new PlotCommand(out, err));
    }

    @Mixin
    HelpOption help;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args, System.out, System.err));
    }

    /**
     * Runs {@code bench} with {@code args}; returns the exit status. When the first argument names a harness, only that
     * one is made, so that a reduced class path (the scorer's: attend-gpu, picocli and XChart) runs it; otherwise (help,
     * a usage error) all are listed, but for those whose classes this class path lacks.
     */
    static int execute(String[] args, PrintStream out, PrintStream err) {
        CommandLine cli = new CommandLine(new BenchMain());
        String named = args.length > 0 && BENCHES.containsKey(args[0]) ? args[0] : null;
        BENCHES.forEach((name, make) -> {
            if (named == null || named.equals(name)) {
                try {
                    cli.addSubcommand(name, make.apply(out, err));
                } catch (LinkageError missing) {
                    if (named != null) {
                        throw missing;
                    } // else not on this class path: not listed
                }
            }
        });
        cli.addSubcommand("help", new CommandLine.HelpCommand());
        BenchCli.configure(cli, out, err);
        if (cli.getSubcommands().containsKey("jmh")) {
            // JMH's options are not picocli's: all of them are its arguments.
            cli.getSubcommands().get("jmh").setUnmatchedOptionsArePositionalParams(true);
        }
        return cli.execute(args);
    }

    /** {@code bench} alone is a usage error (exit 2), like an unknown benchmark. */
    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing the benchmark: bench NAME [args]");
    }
}
