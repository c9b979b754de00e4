package dev.attend.bench;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting for a harness's own tasks: their unchecked failures come back as they were thrown. */
final class Futures {

    private Futures() {
    }

    /** Waits for every one of {@code futures} in order; the first failure is rethrown (unchecked ones unwrapped). */
    static void joinAll(List<? extends Future<?>> futures) {
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the harness's tasks", e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException(e.getCause());
            }
        }
    }
}
