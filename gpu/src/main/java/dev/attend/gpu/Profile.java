package dev.attend.gpu;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Where the wall time of one device call went, per phase, plus what the device itself reported for
 * its kernels: the gap between the two is launch and transfer overhead.
 *
 * @param candidates  candidate rows the host read back
 * @param shards      device key buffers scanned (a range top-k's pieces)
 * @param refined     candidate lists that overflowed and were collected again on the device (range top-k)
 * @param hostQueries queries the host finished on the SIMD path, which the device could not bound (range top-k)
 */
public record Profile(Map<Phase, Double> millis, double kernelMs, long candidates, int shards, long refined,
                      long hostQueries) {

    /** Phases of an OpenCL top-k call. */
    public enum Phase { UPLOAD, SCORE, THRESHOLD, COLLECT, MERGE }

    public double totalMs() {
        return millis.values().stream().mapToDouble(Double::doubleValue).sum();
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        millis.forEach((p, ms) -> b.append(p.name().toLowerCase(Locale.ROOT)).append('=')
                .append(String.format(Locale.ROOT, "%.3f", ms)).append("ms "));
        return b.append(String.format(Locale.ROOT, "kernels=%.3fms candidates=%d shards=%d refined=%d host=%d", kernelMs,
                candidates, shards, refined, hostQueries)).toString();
    }

    /** Accumulates phases during one call. */
    static final class Builder {
        private final EnumMap<Phase, Double> millis = new EnumMap<>(Phase.class);
        double kernelMs;
        long candidates;
        long refined;
        long hostQueries;

        /** Adds the time since {@code start} to {@code phase} and returns now. */
        long lap(long start, Phase phase) {
            long now = System.nanoTime();
            millis.merge(phase, (now - start) / 1e6, Double::sum);
            return now;
        }

        Profile build(int shards) {
            return new Profile(Map.copyOf(millis), kernelMs, candidates, shards, refined, hostQueries);
        }
    }
}
