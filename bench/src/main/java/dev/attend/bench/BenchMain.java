package dev.attend.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Entry point of the benchmark harnesses: {@code bench NAME [args]}.
 *
 * <ul>
 *   <li>{@code scorer}: top-k scoring throughput of every backend against memory bandwidth
 *       ({@link ScorerBench}); needs only attend-gpu and XChart on the class path.
 *   <li>{@code index}: vector indexes on real KV heads and synthetic OOD workloads: recall against scanned
 *       fraction ({@link IndexBench}).
 *   <li>{@code jmh [jmh args]}: the JMH micro-benchmarks of this module ({@code org.openjdk.jmh.Main}),
 *       forked JVMs getting the flags of conf/jvm.options.
 * </ul>
 */
public final class BenchMain {

    private static final Map<String, String> BENCHES = new LinkedHashMap<>();

    static {
        BENCHES.put("scorer", "top-k scoring throughput per backend vs. STREAM triad bandwidth (--help for options)");
        BENCHES.put("index", "vector indexes on KV heads / synthetic OOD: recall@10/100 vs scanned fraction (--help for options)");
        BENCHES.put("jmh", "JMH micro-benchmarks (dev.attend.bench.jmh); arguments go to org.openjdk.jmh.Main");
        BENCHES.put("attention", "retrieval attention while decoding on KV heads: mass recall, output error, latency (--help)");
        BENCHES.put("policies", "per-head KV policies (full, streaming, retrieval, recycled, block, retrieval+tail, auto) on KV heads: error, memory, latency (--help)");
        BENCHES.put("attention-http", "one KV head over HTTP at N = 10^6: decode-step latency (append + attend), prefill, build (--help)");
        BENCHES.put("lm-http", "bytelm-gqa's decode attention in process vs over HTTP (a running attend serve), alternately: per call and per byte (--help)");
        BENCHES.put("stream", "events through the in-process Kafka broker into the sequence store: events/s, freshness p50/p99 (--help)");
        BENCHES.put("online", "online learning from a behaviour stream: prequential AUC per window against a frozen model, PNG plot (--help)");
        BENCHES.put("recsys", "DARE vs TWIN-like vs DIN-like vs popularity on a behaviour data set: AUC, GAUC, logloss (--help)");
        BENCHES.put("plot", "draws the chart of a scorer, index or attention JSON report (--json FILE --png FILE)");
    }

    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            usage(args.length == 0 ? System.err : System.out);
            System.exit(args.length == 0 ? 2 : 0);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "scorer" -> System.exit(ScorerBench.run(rest, System.out, System.err));
            case "index" -> System.exit(IndexBench.run(rest, System.out, System.err));
            case "attention" -> System.exit(AttentionBench.run(rest, System.out, System.err));
            case "attention-http" -> System.exit(AttentionHttpBench.run(rest, System.out, System.err));
            case "lm-http" -> System.exit(LmHttpBench.run(rest, System.out, System.err));
            case "policies" -> System.exit(PolicyBench.run(rest, System.out, System.err));
            case "recsys" -> System.exit(RecsysBench.run(rest, System.out, System.err));
            case "stream" -> System.exit(StreamBench.run(rest, System.out, System.err));
            case "online" -> System.exit(OnlineBench.run(rest, System.out, System.err));
            case "plot" -> System.exit(PlotCommand.run(rest, System.err));
            // In its own class so that the scorer harness never loads JMH (absent from reduced class paths).
            case "jmh" -> JmhLauncher.run(rest);
            default -> {
                System.err.println("bench: unknown benchmark '" + args[0] + "'");
                usage(System.err);
                System.exit(2);
            }
        }
    }

    private static void usage(java.io.PrintStream out) {
        out.println("usage: bench NAME [args]   (./attend bench NAME ...)");
        out.println("benchmarks:");
        BENCHES.forEach((name, what) -> out.printf("  %-8s %s%n", name, what));
    }
}
