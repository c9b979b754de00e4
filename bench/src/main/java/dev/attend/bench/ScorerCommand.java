package dev.attend.bench;

import dev.attend.gpu.Precision;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bench scorer}: the command line of {@link ScorerBench}. Touches nothing but attend-gpu (reduced class path). */
@Command(name = "scorer", sortOptions = false,
        description = "Top-k scoring throughput per backend vs. STREAM triad bandwidth.",
        customSynopsis = {
            "bench scorer [--json FILE] [--png FILE] [--n 100000,1000000,10000000] [--d 32,128]",
            "             [--m 1,16,64] [--k 100] [--backends plain,simd-1,simd,opencl]",
            "             [--precision float32|float16] [--reps N] [--quick]",
            "             [--triad-mib MIB] [--max-call-s S] [--seed S]",
            "bench scorer --build [--queries 32768] [--per-call C] [--heads H] [--n 131072] [--d 128] [--k 100]",
            "             [--precision float16] [--backends simd,opencl] [--reps 3] [--json FILE]"},
        footer = {
            "backends: plain (scalar Java loop, 1 thread: the baseline), simd-1 (SimdScorer(1)),",
            "          simd (SimdScorer, all cores), opencl (OpenClScorer GPU_THEN_CPU, skipped without OpenCL)",
            "--build: an index build's exact top-k (Scorer.topK over a row range) of many queries against one head's",
            "          keys, timed per head on simd (all cores) and opencl in the same run, with the recall of opencl vs simd"})
final class ScorerCommand extends BenchCommand {

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    @Option(names = "--png", paramLabel = "FILE", description = "Draw the chart.")
    Path png;

    @Option(names = "--n", paramLabel = "N,...", description = "Keys per case (default 100000,1000000,10000000).")
    String ns;

    @Option(names = "--d", paramLabel = "D,...", description = "Dimensions (default 32,128).")
    String ds;

    @Option(names = "--m", paramLabel = "M,...", description = "Queries per batch (default 1,16,64).")
    String ms;

    @Option(names = "--k", paramLabel = "K", description = "Top-k (default 100).")
    String k;

    @Option(names = "--backends", paramLabel = "B,...", description = "Backends measured (default: all four, below).")
    String backends;

    @Option(names = "--precision", paramLabel = "float32|float16", description = "Key precision (default float32).")
    String precision;

    @Option(names = "--reps", paramLabel = "N",
            description = "Exactly N timed calls per case (default: adaptive, 3..20, about 3 s a case).")
    String reps;

    @Option(names = "--quick", description = "n=100000,1000000 d=32,128 m=1,16 and short timing (explicit lists still win).")
    boolean quick;

    @Option(names = "--triad-mib", paramLabel = "MIB",
            description = "Size of each of the three triad arrays (default: max(256 MiB, 4 x LLC), heap permitting).")
    String triadMib;

    @Option(names = "--max-call-s", paramLabel = "S",
            description = "Skip a case whose single call is estimated (from a smaller n) to take longer (default 30).")
    double maxCallSeconds = 30;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the random keys and queries (default 42).")
    long seed = 42;

    @Option(names = "--build", description = "The index build's shape: --queries queries against each head's n keys "
            + "(defaults n=131072 d=128 float16 k=100, backends simd,opencl, 3 reps).")
    boolean build;

    @Option(names = "--queries", paramLabel = "Q", description = "--build: queries per head (default 32768).")
    String queries;

    @Option(names = "--per-call", paramLabel = "C", description = "--build: queries per top-k call (default: a head's all).")
    String perCall;

    @Option(names = "--heads", paramLabel = "H",
            description = "--build: heads built at once on OpenCL, one thread and one store each (default 1).")
    String heads;

    ScorerCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() {
        return ScorerBench.run(checked(this::options), out, err);
    }

    ScorerOptions options() {
        int[] n = ns != null ? OptionValues.roundedInts("--n", ns, 1) : build ? new int[] {131_072}
                : quick ? new int[] {100_000, 1_000_000} : new int[] {100_000, 1_000_000, 10_000_000};
        int[] d = ds != null ? OptionValues.roundedInts("--d", ds, 1) : build ? new int[] {128} : new int[] {32, 128};
        int[] m = ms != null ? OptionValues.roundedInts("--m", ms, 1) : quick ? new int[] {1, 16} : new int[] {1, 16, 64};
        List<String> chosen = build ? List.of("simd", "opencl") : ScorerOptions.BACKENDS;
        if (backends != null) {
            chosen = new ArrayList<>();
            for (String b : backends.split(",")) {
                String name = b.strip().toLowerCase(Locale.ROOT);
                if (!ScorerOptions.BACKENDS.contains(name)) {
                    throw new IllegalArgumentException("unknown backend '" + b + "'; choose from " + ScorerOptions.BACKENDS);
                }
                if (!chosen.contains(name)) {
                    chosen.add(name);
                }
            }
        }
        // Plain (the baseline) runs first so every other backend can be compared with it.
        List<String> ordered = new ArrayList<>(chosen);
        ordered.sort(Comparator.comparingInt(ScorerOptions.BACKENDS::indexOf));
        Precision p = precision == null ? (build ? Precision.FLOAT16 : Precision.FLOAT32) : switch (precision.toLowerCase(Locale.ROOT)) {
            case "float32", "f32", "fp32" -> Precision.FLOAT32;
            case "float16", "f16", "fp16" -> Precision.FLOAT16;
            default -> throw new IllegalArgumentException("--precision is float32 or float16, not '" + precision + "'");
        };
        return new ScorerOptions(json, png, n, d, m, k != null ? OptionValues.roundedInts("--k", k, 1)[0] : 100, List.copyOf(ordered), p,
                reps != null ? OptionValues.roundedInts("--reps", reps, 1)[0] : 0, quick,
                triadMib != null ? (long) OptionValues.roundedInts("--triad-mib", triadMib, 1)[0] << 20 : 0, maxCallSeconds, seed,
                build, queries != null ? OptionValues.roundedInts("--queries", queries, 1)[0] : 32_768,
                perCall != null ? OptionValues.roundedInts("--per-call", perCall, 1)[0] : Integer.MAX_VALUE,
                heads != null ? OptionValues.roundedInts("--heads", heads, 1)[0] : 1);
    }
}
