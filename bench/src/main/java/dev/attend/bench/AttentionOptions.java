package dev.attend.bench;

import dev.attend.retrieval.KvSessionConfig;
import java.nio.file.Path;
import java.util.List;

/** What {@code bench attention} measures ({@link AttentionCommand} reads it from the command line). */
record AttentionOptions(List<Path> kvDirs, List<Integer> synthetic, List<String> heads, int steps, int[] ks, double[] budgets,
                        int sinks, int window, List<KvSessionConfig.Retriever> retrievers, int train, int threads,
                        String scorer, long seed, Path json, Path plot) {
}
