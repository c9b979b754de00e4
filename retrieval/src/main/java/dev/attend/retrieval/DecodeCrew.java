package dev.attend.retrieval;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The threads that help answer a layer's query heads ({@link LayerWork}), one fewer than the cores (the caller is the
 * last). A member that runs out of work spins for {@link #SPIN_NANOS} before it parks, so that the next layer of a
 * token, which follows within microseconds, finds the crew awake; a caller wakes parked members itself, each with
 * its own unpark, rather than one wake-up handing on to the next as the common pool's workers do.
 */
final class DecodeCrew {

    /** About the gap between two layers of one token in the caller, with room to spare. */
    static final long SPIN_NANOS = 200_000;

    private static final class Holder {
        static final DecodeCrew SHARED = new DecodeCrew(Runtime.getRuntime().availableProcessors() - 1, "attend-decode");
    }

    private final Thread[] members;
    /** 1 while member i is parked or about to park; a caller that sets it back to 0 owes the member an unpark. */
    private final AtomicIntegerArray sleeping;
    private final ConcurrentLinkedQueue<LayerWork> works = new ConcurrentLinkedQueue<>();

    private DecodeCrew(int size, String name) {
        this.members = new Thread[Math.max(0, size)];
        this.sleeping = new AtomicIntegerArray(members.length);
        for (int i = 0; i < members.length; i++) {
            int id = i;
            Thread t = new Thread(() -> serve(id), name + "-" + (i + 1));
            t.setDaemon(true);
            members[i] = t;
        }
        for (Thread t : members) {
            t.start();
        }
    }

    /** The process's crew, started on first use. */
    static DecodeCrew shared() {
        return Holder.SHARED;
    }

    int size() {
        return members.length;
    }

    /** Runs {@code work} with the caller and up to {@code helpers} members, and returns when every piece is done. */
    void runAll(LayerWork work, int helpers) {
        works.add(work);
        for (int i = 0, woken = 0; i < members.length && woken < helpers; i++) {
            if (sleeping.get(i) == 1 && sleeping.compareAndSet(i, 1, 0)) {
                LockSupport.unpark(members[i]);
                woken++;
            }
        }
        try {
            work.run();
        } finally {
            works.remove(work);
        }
        work.await();
    }

    private LayerWork open() {
        for (LayerWork w : works) {
            if (w.hasWork()) {
                return w;
            }
        }
        return null;
    }

    private void serve(int id) {
        long idleSince = System.nanoTime();
        while (true) {
            LayerWork w = open();
            if (w != null) {
                w.run();
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                sleeping.set(id, 1);
                if (open() != null) { // published before we said we sleep: take it ourselves
                    sleeping.set(id, 0);
                    continue;
                }
                while (sleeping.get(id) == 1) {
                    LockSupport.park(this);
                }
                idleSince = System.nanoTime();
            }
        }
    }
}
