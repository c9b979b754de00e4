package dev.attend.bench;

import dev.attend.bench.workload.OodWorkloadGenerator;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code bench index}: the command line of {@link IndexBench}. */
@Command(name = "index", sortOptions = false,
        description = "Vector indexes on KV heads / synthetic OOD: recall@10/100 vs scanned fraction.",
        customSynopsis = {
            "bench index (--kv DIR | --synthetic N[,N...])... [--head NAME[,NAME...]] [--json FILE] [--plot FILE.png]",
            "            [--budgets B,...] [--indexes flat,lucene,hnswlib,attention,attention-online] [--k 100] [--queries M]",
            "            [--train M] [--online M] [--scorer auto|simd|opencl|scalar] [--seed S] [--no-id] [--ivf] [--cached-topk]",
            "            [--dim D] [--dtype float32|float16]"})
final class IndexCommand extends BenchCommand {

    @Option(names = "--kv", paramLabel = "DIR", description = "A KV directory (meta.json + {head}.{q,k,v}.npy): the first N-1024 "
            + "tokens' keys are indexed, their queries train, the last 1024 queries are the test queries (repeatable).")
    List<Path> kv = new ArrayList<>();

    @Option(names = "--synthetic", paramLabel = "N[,N...]",
            description = "Generated OOD workload(s) of N keys (OodWorkloadGenerator, parameters embedded; repeatable).")
    List<String> synthetic = new ArrayList<>();

    @Option(names = "--head", paramLabel = "NAMES", description = "Heads of the --kv directories (default: all in meta.json); for "
            + "--synthetic, the embedded parameter sets (default " + OodWorkloadGenerator.DEFAULT_HEAD + "; known: below).")
    String heads;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    @Option(names = {"--plot", "--png"}, paramLabel = "FILE.png", description = "Draw recall against the scanned fraction.")
    Path plot;

    @Option(names = "--budgets", paramLabel = "B,...", description = "Distance computations per search: values < 1 are fractions "
            + "of N, others counts (default 0.005,0.01,0.02,0.03,0.05,0.08,0.12,0.2).")
    String budgets;

    @Option(names = "--indexes", paramLabel = "NAMES",
            description = "Default: all five; one that cannot be built here is reported as skipped, with the reason.")
    String indexes;

    @Option(names = "--k", paramLabel = "K", description = "Neighbours per search (default 100).")
    String k;

    @Option(names = "--queries", paramLabel = "M", description = "Test queries per workload, evenly spaced (default: all 1024).")
    String queries;

    @Option(names = "--train", paramLabel = "M", description = "Training queries for the attention-aware index (default: all for "
            + "--kv; for --synthetic, min(N, 100000) are generated).")
    String train;

    @Option(names = "--online", paramLabel = "M", description = "Keys that attention-online adds one by one after building over the "
            + "others (default " + IndexOptions.DEFAULT_ONLINE_KEYS + ", at most N/2); compare its recall with attention's (built over "
            + "all keys).")
    String online;

    @Option(names = "--scorer", paramLabel = "auto|simd|opencl|scalar", defaultValue = "auto",
            description = "Backend of the exact top-k, of flat and of the attention-aware build (default auto).")
    String scorer;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "Seed of the synthetic workloads (default 1).")
    long seed;

    @Option(names = "--no-id", description = "Skip the in-distribution check (held-out keys as queries).")
    boolean noInDistribution;

    @Option(names = "--cached-topk", description = "Build each index twice, the second time with every exact top-k answered "
            + "from the first's: build_s then times the rest of a build (linking and pruning on the cores).")
    boolean cachedTopK;

    @Option(names = "--dim", paramLabel = "D", description = "Synthetic heads at dimension D (default: each parameter set's own; "
            + "bench model's heads are at 128).")
    String dim;

    @Option(names = "--dtype", paramLabel = "float32|float16", defaultValue = "float32",
            description = "Precision the synthetic keys and queries are stored in (default float32; float16 as large KV sessions"
                    + " store them). The attention indexes read the keys where they are stored.")
    String dtype;

    @Option(names = "--ivf", description = "Also measure the workloads' IVF scan fractions (k-means over the keys; slower).")
    boolean ivf;

    IndexCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** The embedded heads are known only at run time: they go to the usage's footer. */
    @Spec
    void footer(CommandSpec spec) {
        spec.usageMessage().footer("Embedded parameter sets (--synthetic with --head): "
                + String.join(", ", OodWorkloadGenerator.defaultHeads()));
    }

    @Override
    public Integer call() {
        return IndexBench.run(checked(this::options), out, err);
    }

    IndexOptions options() {
        List<Integer> sizes = new ArrayList<>();
        for (String v : synthetic) {
            for (String s : v.split(",")) {
                sizes.add(OptionValues.positive("--synthetic", s));
            }
        }
        List<String> headList = heads == null ? List.of()
                : Arrays.stream(heads.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        double[] budgetList = budgets == null ? IndexOptions.DEFAULT_BUDGETS
                : Arrays.stream(budgets.split(",")).map(String::strip).filter(s -> !s.isEmpty()).mapToDouble(s -> {
                    double b = OptionValues.number("--budgets", s);
                    if (!(b > 0)) {
                        throw new IllegalArgumentException("--budgets needs positive values, got " + s);
                    }
                    return b;
                }).toArray();
        List<String> indexList = IndexFactories.NAMES;
        if (indexes != null) {
            List<String> list = new ArrayList<>();
            for (String s : indexes.split(",")) {
                String name = s.strip().toLowerCase(Locale.ROOT);
                if (!IndexFactories.NAMES.contains(name)) {
                    throw new IllegalArgumentException("unknown index '" + s + "'; choose from " + IndexFactories.NAMES);
                }
                if (!list.contains(name)) {
                    list.add(name);
                }
            }
            indexList = List.copyOf(list);
        }
        int kk = k != null ? OptionValues.positive("--k", k) : 100;
        int queryCount = queries != null ? OptionValues.positive("--queries", queries) : 0;
        int trainCount = train != null ? (int) OptionValues.number("--train", train) : -1;
        int onlineKeys = online != null ? OptionValues.positive("--online", online) : IndexOptions.DEFAULT_ONLINE_KEYS;
        if (kv.isEmpty() && sizes.isEmpty()) {
            throw new IllegalArgumentException("give --kv DIR or --synthetic N");
        }
        if (budgetList.length == 0 || indexList.isEmpty()) {
            throw new IllegalArgumentException("--budgets and --indexes must not be empty");
        }
        if (trainCount < -1) {
            throw new IllegalArgumentException("--train must be >= 0");
        }
        return new IndexOptions(List.copyOf(kv), List.copyOf(sizes), headList, json, plot, budgetList, indexList, kk, queryCount,
                trainCount, scorer, seed, !noInDistribution, ivf, onlineKeys, cachedTopK,
                dim == null ? 0 : OptionValues.positive("--dim", dim), ModelBench.storage(dtype, 0));
    }
}
