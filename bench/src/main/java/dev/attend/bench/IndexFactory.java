package dev.attend.bench;

import dev.attend.bench.workload.KvWorkload;
import dev.attend.gpu.Scorer;
import dev.attend.index.VectorIndex;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Builds one kind of {@link VectorIndex} over a workload's keys (key row i under id i): the extension
 * point of {@link IndexBench}. An index that cannot be built here says why in {@link #unavailableReason()}
 * and the harness reports it as skipped with that reason.
 */
interface IndexFactory {

    /** The name on the command line ({@code --indexes}) and in the report. */
    String name();

    /** Why this index cannot be built in this JVM (class absent, API not as expected), or null when it can. */
    String unavailableReason();

    /** Whether {@link VectorIndex#search}'s budget changes anything (false for an exact index: one row per workload). */
    boolean usesBudget();

    /** Builds the index over {@code workload.keys()}; the caller closes it. */
    VectorIndex build(KvWorkload workload, Context context) throws Exception;

    /**
     * What a build may use.
     *
     * @param scorer          the gpu scorer (exact index, training-query neighbours)
     * @param trainingQueries training queries handed to an index that learns from them (at most this many, evenly spaced)
     * @param tempDir         a scratch folder for on-disk indexes (deleted by the harness)
     * @param log             progress lines
     * @param onlineKeys      keys an index grown online adds after its build
     */
    record Context(Scorer scorer, int trainingQueries, Path tempDir, PrintStream log, int onlineKeys) {
    }
}
