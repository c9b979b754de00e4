package dev.attend.retrieval;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The background threads of KV sessions ({@link KvSession}'s {@code builds} and {@code indexer}): a pool that builds
 * indexes, and one thread that inserts decoded keys into built indexes (its own, so that a long build elsewhere does not
 * hold them up). Daemons, stopped at once on close. The server's sessions, the language model's in-process session and
 * the benches all make theirs here.
 */
public final class KvSessionThreads implements AutoCloseable {

    private final ExecutorService builds;
    private final ExecutorService indexer;

    /** One build thread ({@code NAME-build-1}) and the insert thread ({@code NAME-insert}). */
    public KvSessionThreads(String name) {
        this(name, 1);
    }

    /** {@code buildThreads} build threads ({@code NAME-build-1}, ...; at least one) and the insert thread ({@code NAME-insert}). */
    public KvSessionThreads(String name, int buildThreads) {
        AtomicInteger n = new AtomicInteger();
        this.builds = Executors.newFixedThreadPool(Math.max(1, buildThreads), r -> daemon(r, name + "-build-" + n.incrementAndGet()));
        this.indexer = Executors.newSingleThreadExecutor(r -> daemon(r, name + "-insert"));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Runs index builds. */
    public ExecutorService builds() {
        return builds;
    }

    /** Inserts the keys that leave a window into built indexes. */
    public ExecutorService indexer() {
        return indexer;
    }

    @Override
    public void close() {
        builds.shutdownNow();
        indexer.shutdownNow();
    }
}
