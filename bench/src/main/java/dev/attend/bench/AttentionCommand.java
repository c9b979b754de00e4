package dev.attend.bench;

import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.retrieval.KvSessionConfig;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bench attention}: the command line of {@link AttentionBench}. */
@Command(name = "attention", sortOptions = false,
        description = "Retrieval attention while decoding on KV heads: mass recall, output error, latency.",
        customSynopsis = {
            "bench attention (--kv DIR | --synthetic N)... [--head NAMES] [--steps 1024] [--k 100,2000]",
            "                [--budget 0.01,0.03] [--sinks 128] [--window 512] [--retrievers attention-aware,hnsw]",
            "                [--train M] [--threads 2] [--scorer auto] [--seed 1] [--json FILE] [--plot FILE.png]"})
final class AttentionCommand extends BenchCommand {

    @Option(names = "--kv", paramLabel = "DIR",
            description = "A KV directory (meta.json + {head}.{q,k,v}.npy); the first N - steps tokens are prefilled (repeatable).")
    List<Path> kv = new ArrayList<>();

    @Option(names = "--synthetic", paramLabel = "N",
            description = "A generated OOD head of N tokens (parameters fitted to --head, default " + OodWorkloadGenerator.DEFAULT_HEAD
                    + "; repeatable).")
    List<Integer> synthetic = new ArrayList<>();

    @Option(names = "--head", paramLabel = "NAMES", description = "Heads of the --kv directories (default: all); the first names "
            + "the synthetic head's parameters.")
    String heads;

    @Option(names = "--steps", paramLabel = "S", description = "Decode steps, the last S tokens (default 1024).")
    int steps = 1024;

    @Option(names = "--k", paramLabel = "K,...", description = "Keys retrieved per attend (default 100,2000).")
    String ks;

    @Option(names = "--budget", paramLabel = "F,...", description = "Keys scanned per attend (static set + index distance "
            + "computations), as fractions of N (default 0.03; the index gets at least 2k); each retriever and k is measured at every "
            + "budget.")
    String budgets;

    @Option(names = "--sinks", paramLabel = "S", description = "First tokens always attended (default 128).")
    int sinks = 128;

    @Option(names = "--window", paramLabel = "W", description = "Last tokens always attended (default 512).")
    int window = 512;

    @Option(names = "--retrievers", paramLabel = "R,...", description = "Index of the sessions (default attention-aware,hnsw).")
    String retrievers;

    @Option(names = "--train", paramLabel = "M", description = "Prefill queries of a synthetic head (default min(N, 100000)).")
    int train = -1;

    @Option(names = "--threads", paramLabel = "T",
            description = "Threads of the throughput pass (concurrent attends on the decoded session; default 2).")
    int threads = 2;

    @Option(names = "--scorer", paramLabel = "auto|simd|opencl|scalar", description = "Backend of the scans (default auto).")
    String scorer = "auto";

    @Option(names = "--seed", paramLabel = "S", description = "Seed of a synthetic head (default 1).")
    long seed = 1;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE.png", description = "Draw error against latency.")
    Path plot;

    AttentionCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() {
        return AttentionBench.run(checked(this::options), out, err);
    }

    AttentionOptions options() {
        List<String> headList = heads == null ? List.of() : Arrays.asList(heads.split(","));
        int[] kList = ks == null ? new int[] {100, 2000}
                : Arrays.stream(ks.split(",")).mapToInt(s -> Integer.parseInt(s.strip())).toArray();
        double[] budgetList = budgets == null ? new double[] {0.03}
                : Arrays.stream(budgets.split(",")).mapToDouble(b -> Double.parseDouble(b.strip())).toArray();
        List<KvSessionConfig.Retriever> retrieverList = retrievers == null ? List.of(KvSessionConfig.Retriever.values())
                : Arrays.stream(retrievers.split(",")).map(String::strip).map(KvSessionConfig.Retriever::of).toList();
        if (kv.isEmpty() && synthetic.isEmpty()) {
            throw new IllegalArgumentException("give --kv DIR or --synthetic N");
        }
        if (steps < 1 || budgetList.length == 0 || Arrays.stream(budgetList).anyMatch(b -> !(b > 0 && b <= 1)) || sinks < 0
                || window < 0 || threads < 1 || kList.length == 0 || Arrays.stream(kList).anyMatch(k -> k < 1)
                || synthetic.stream().anyMatch(n -> n < 2)) {
            throw new IllegalArgumentException("--steps, --threads and every k must be >= 1, every --budget in (0, 1], "
                    + "--sinks and --window >= 0, --synthetic >= 2");
        }
        return new AttentionOptions(List.copyOf(kv), List.copyOf(synthetic), headList, steps, kList, budgetList, sinks, window,
                retrieverList, train, threads, scorer, seed, json, plot);
    }
}
