package dev.attend.server.cli;

import java.util.concurrent.CountDownLatch;

/**
 * Stops on SIGTERM or SIGINT (Ctrl-C) through a JVM shutdown hook. The hook itself performs the
 * graceful stop, because the JVM exits as soon as its hooks return, whatever other threads do.
 */
public final class JvmShutdownSignal implements StopSignal {

    private final CountDownLatch stopped = new CountDownLatch(1);

    @Override
    public void onStop(Runnable stopAction) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                stopAction.run();
            } finally {
                stopped.countDown();
            }
        }, "attend-shutdown"));
    }

    @Override
    public void await() throws InterruptedException {
        stopped.await();
    }
}
