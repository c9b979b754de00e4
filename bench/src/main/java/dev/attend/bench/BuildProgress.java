package dev.attend.bench;

import dev.attend.retrieval.KvSession;
import java.io.PrintStream;
import java.util.Locale;

/** Prints a session's build progress every 15 s while its (synchronous) prefill runs. */
final class BuildProgress implements AutoCloseable {

    private final Thread thread;

    BuildProgress(PrintStream err, String what, KvSession session) {
        thread = Thread.ofVirtual().start(() -> {
            long start = System.nanoTime();
            try {
                while (true) {
                    Thread.sleep(15_000);
                    KvSession.IndexState s = session.indexState(0, 0);
                    err.printf(Locale.ROOT, "%s: %s %,d/%,d (%.0f s)%n", what, s.state(), s.built(), s.toBuild(),
                            (System.nanoTime() - start) / 1e9);
                }
            } catch (InterruptedException e) {
                // done
            }
        });
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
