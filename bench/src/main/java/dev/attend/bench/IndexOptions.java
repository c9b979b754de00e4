package dev.attend.bench;

import dev.attend.gpu.Precision;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code bench index} measures ({@link IndexCommand} reads it from the command line). {@code dim} (0: each
 * parameter set's own) and {@code storage} shape the synthetic workloads.
 */
record IndexOptions(List<Path> kvDirs, List<Integer> synthetic, List<String> heads, Path json, Path plot, double[] budgets,
                    List<String> indexes, int k, int queries, int train, String scorer, long seed, boolean inDistribution,
                    boolean ivf, int online, boolean cachedTopK, int dim, Precision storage) {

    /** Keys that {@code attention-online} adds after its build (at most half of N). */
    static final int DEFAULT_ONLINE_KEYS = 10_000;
    static final double[] DEFAULT_BUDGETS = {0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2};
}
