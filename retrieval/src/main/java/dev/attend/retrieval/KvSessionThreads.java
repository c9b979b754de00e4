package dev.attend.retrieval;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The background threads of KV sessions ({@link KvSession}'s {@code builds} and {@code indexer}): a pool that builds
 * indexes, and one thread that inserts decoded keys into built indexes (its own, so that a long build elsewhere does not
 * hold them up). Daemons, stopped at once on close. The server's sessions, the language model's in-process session and
 * the benches all make theirs here.
 */
public final class KvSessionThreads implements AutoCloseable {

    /** Threads that start builds: at most {@code buildThreads} builds at once, each waiting for its work in {@link #work}. */
    private final ExecutorService starts;
    /**
     * Where builds and their parallel loops (pruning, reverse edges, merging lists) run, one worker per core: a build's
     * joins help with its loops' pieces instead of parking. When builds ran on plain threads and their loops in the
     * common pool, the build threads sat parked in those joins some 2.5 threads' worth while the builds were bound by
     * the cores (bench/RESULTS.md).
     */
    private final ForkJoinPool work;
    private final ExecutorService indexer;

    /** One build thread ({@code NAME-build-1}) and the insert thread ({@code NAME-insert}). */
    public KvSessionThreads(String name) {
        this(name, 1);
    }

    /**
     * At most {@code buildThreads} builds at once (at least one; their threads {@code NAME-build-1}, ..., their work on
     * {@code NAME-work-N}, one per core) and the insert thread ({@code NAME-insert}).
     */
    public KvSessionThreads(String name, int buildThreads) {
        AtomicInteger n = new AtomicInteger();
        AtomicInteger w = new AtomicInteger();
        this.starts = Executors.newFixedThreadPool(Math.max(1, buildThreads), r -> daemon(r, name + "-build-" + n.incrementAndGet()));
        this.work = new ForkJoinPool(Runtime.getRuntime().availableProcessors(), pool -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            t.setName(name + "-work-" + w.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, null, false);
        this.indexer = Executors.newSingleThreadExecutor(r -> daemon(r, name + "-insert"));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Runs index builds. */
    public Executor builds() {
        return this::startBuild;
    }

    private void startBuild(Runnable build) {
        starts.execute(() -> {
            ForkJoinTask<?> task = work.submit(build);
            try {
                task.get();
            } catch (InterruptedException e) {
                task.cancel(true);
                Thread.currentThread().interrupt();
            } catch (ExecutionException e) {
                Thread t = Thread.currentThread();
                t.getUncaughtExceptionHandler().uncaughtException(t, e.getCause());
            }
        });
    }

    /** Inserts the keys that leave a window into built indexes. */
    public ExecutorService indexer() {
        return indexer;
    }

    @Override
    public void close() {
        starts.shutdownNow();
        work.shutdownNow();
        indexer.shutdownNow();
    }
}
