package dev.attend.retrieval;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
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
        int threads = Math.max(1, buildThreads);
        this.builds = FORK_JOIN_BUILDS
                ? new ForkJoinPool(threads, pool -> {
                    ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                    t.setName(name + "-build-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, null, false)
                : Executors.newFixedThreadPool(threads, r -> daemon(r, name + "-build-" + n.incrementAndGet()));
        this.indexer = Executors.newSingleThreadExecutor(r -> daemon(r, name + "-insert"));
    }

    /**
     * TEMPORARY A/B switch for the next GPU lease ({@code -Dattend.kv.buildPool=forkjoin}): builds as tasks of a
     * fork/join pool, so that a build's parallel loops run in that pool and their joins help instead of parking (on
     * the H100 machine build threads sat parked in their loops' joins some 2.5 threads' worth while the builds were
     * bound by the cores; bench/RESULTS.md). Removed once measured.
     */
    private static final boolean FORK_JOIN_BUILDS = "forkjoin".equals(System.getProperty("attend.kv.buildPool"));

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
