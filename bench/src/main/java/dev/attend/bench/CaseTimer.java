package dev.attend.bench;

import dev.attend.gpu.TopKResult;
import java.util.Arrays;
import java.util.function.Supplier;

/** How {@code bench scorer} times one case: warm-up, then a fixed or adaptive number of timed calls ({@link ScorerOptions}). */
final class CaseTimer {

    /** Median and best of the timed calls of one case. */
    record Timing(double medianMs, double bestMs, int reps, int warmCalls, TopKResult result) {
    }

    private static volatile long sink;

    private final ScorerOptions options;

    CaseTimer(ScorerOptions options) {
        this.options = options;
    }

    /**
     * Warm-up, then adaptive or fixed timed calls. Warm-up lasts at least warmSeconds and
     * {@code minCalls} calls (the CPU backends ask for enough calls to score {@link ScorerBench#WARM_ROW_QUERIES}
     * rows x queries, so that C2 has compiled the kernels even for a small n: Vector API code is very
     * slow until then), and two calls when calls are short.
     */
    Timing time(Supplier<TopKResult> call, long minCalls) {
        long warmBudget = (long) (options.warmSeconds() * 1e9);
        long start = System.nanoTime();
        int warm = 0;
        long last;
        TopKResult result;
        do {
            long t0 = System.nanoTime();
            result = call.get();
            last = System.nanoTime() - t0;
            consume(result);
            warm++;
        } while (warm < minCalls || System.nanoTime() - start < warmBudget || (warm < 2 && last < 1_000_000_000L));
        int reps;
        if (options.reps() > 0) {
            reps = options.reps();
        } else {
            long budget = (long) (options.caseSeconds() * 1e9);
            int fit = (int) Math.min(Integer.MAX_VALUE, budget / Math.max(1, last));
            int floor = last < 1_000_000_000L ? options.minReps() : 1;
            reps = Math.max(floor, Math.min(fit, options.maxReps()));
        }
        long[] nanos = new long[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            result = call.get();
            nanos[r] = System.nanoTime() - t0;
            consume(result);
        }
        Arrays.sort(nanos);
        double median = reps % 2 == 1 ? nanos[reps / 2] : (nanos[reps / 2 - 1] + nanos[reps / 2]) / 2.0;
        return new Timing(median / 1e6, nanos[0] / 1e6, reps, warm, result);
    }

    /** Reads the result, so that the JIT cannot drop the call. */
    static void consume(TopKResult r) {
        long s = 0;
        for (int i = 0; i < r.perQuery().size(); i++) {
            int[] ids = r.get(i).ids();
            s += ids.length == 0 ? 0 : ids[0];
        }
        sink += s;
    }
}
