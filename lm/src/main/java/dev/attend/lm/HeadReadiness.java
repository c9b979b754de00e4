package dev.attend.lm;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Waiting for a KV session's heads to be ready, wherever the session is (in process or over HTTP): a head is waited
 * for while it has tokens outside its static set and its index is not built or its policy not opened.
 */
final class HeadReadiness {

    /** One head as a poll sees it: {@code layer/kvHead}, its index state, its tokens. */
    record Head(String name, String state, int tokens) {
    }

    private HeadReadiness() {
    }

    /**
     * Polls {@code heads} until every head is ready; an {@link IllegalStateException} names a head whose build failed, a
     * {@link TimeoutException} says which heads are still building.
     */
    static void await(Supplier<List<Head>> heads, int sinks, int window, long timeoutMillis)
            throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (true) {
            StringBuilder waiting = new StringBuilder();
            for (Head h : heads.get()) {
                if (h.state().startsWith("failed")) {
                    throw new IllegalStateException("KV head " + h.name() + ": " + h.state());
                }
                if (!h.state().equals("ready") && h.tokens() - window > sinks) {
                    waiting.append(' ').append(h.name()).append(' ').append(h.state());
                }
            }
            if (waiting.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("KV heads not ready after " + timeoutMillis + " ms:" + waiting);
            }
            Thread.sleep(20);
        }
    }
}
