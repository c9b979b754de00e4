package dev.attend.retrieval;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/** The query heads of one {@link KvSession#decodeLayer}, claimed one at a time by whichever thread comes; the caller waits for the last. */
final class LayerWork implements Runnable {
    private final KvSession session;
    private final int layer;
    private final float[][] queries;
    private final int budget;
    private final AttendResult[] results;
    private final Thread caller;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger left;
    private volatile Throwable failure;

    LayerWork(KvSession session, int layer, float[][] queries, int budget, AttendResult[] results, Thread caller) {
        this.session = session;
        this.layer = layer;
        this.queries = queries;
        this.budget = budget;
        this.results = results;
        this.caller = caller;
        this.left = new AtomicInteger(queries.length);
    }

    @Override
    public void run() {
        for (int q; (q = next.getAndIncrement()) < queries.length; ) {
            try {
                results[q] = session.answerOne(layer, q, queries[q], budget);
            } catch (Throwable t) {
                if (failure == null) {
                    failure = t;
                }
            } finally {
                if (left.decrementAndGet() == 0) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }

    /** Waits until every query head is answered (helpers may still be finishing theirs), then rethrows the first failure. */
    void await() {
        boolean interrupted = false;
        while (left.get() > 0) {
            LockSupport.park(this);
            interrupted |= Thread.interrupted();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable t = failure;
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw new IllegalStateException(t);
        }
    }

    /** Answers {@code queries[q]} into {@code results[q]}: the calling thread and helpers of the common pool claim query heads in turn. */
    static void answerAll(KvSession session, int layer, float[][] queries, int budget, AttendResult[] results) {
        int n = queries.length;
        int helpers = Runtime.getRuntime().availableProcessors() <= 1 ? 0
                : Math.min(n - 1, ForkJoinPool.getCommonPoolParallelism());
        if (helpers <= 0) {
            for (int q = 0; q < n; q++) {
                results[q] = session.answerOne(layer, q, queries[q], budget);
            }
            return;
        }
        LayerWork work = new LayerWork(session, layer, queries, budget, results, Thread.currentThread());
        for (int i = 0; i < helpers; i++) {
            ForkJoinPool.commonPool().execute(work);
        }
        work.run();
        work.await();
    }
}
