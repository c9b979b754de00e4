package dev.attend.server.kv;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The background threads of the KV sessions: one builds indexes, one inserts decoded keys into built indexes (its
 * own, so that a long build elsewhere does not hold them up). Daemons, stopped at once on close.
 */
final class KvSessionThreads implements AutoCloseable {

    final ExecutorService builds = daemon("attend-index-build");
    final ExecutorService indexer = daemon("attend-index-insert");

    private static ExecutorService daemon(String name) {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void close() {
        builds.shutdownNow();
        indexer.shutdownNow();
    }
}
