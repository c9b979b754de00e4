package dev.attend.bench;

import dev.attend.gpu.Precision;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code bench scorer} measures ({@link ScorerCommand} reads it from the command line). With {@code build}, the
 * index build's shape instead ({@link BuildTopKBench}): {@code buildQueries} queries per head against each n x d store,
 * {@code perCall} of them per top-k call, {@code heads} heads at once on OpenCL.
 */
record ScorerOptions(Path json, Path png, int[] ns, int[] ds, int[] ms, int k, List<String> backends, Precision precision,
                     int reps, boolean quick, long triadBytes, double maxCallSeconds, long seed, boolean build,
                     int buildQueries, int perCall, int heads) {

    static final List<String> BACKENDS = List.of("plain", "simd-1", "simd", "opencl");

    double warmSeconds() {
        return quick ? 0.2 : 1.0;
    }

    double caseSeconds() {
        return quick ? 0.4 : 3.0;
    }

    int minReps() {
        return quick ? 2 : 3;
    }

    int maxReps() {
        return quick ? 5 : 20;
    }
}
