package dev.attend.server.cli;

/**
 * How a long-running command learns it should stop. Production uses {@link JvmShutdownSignal}
 * (SIGTERM, SIGINT); tests use one they can trigger themselves.
 */
public interface StopSignal {

    /** Arranges for {@code stopAction} to run once when a stop is requested. Call before starting work. */
    void onStop(Runnable stopAction);

    /** Blocks until the stop action has run. */
    void await() throws InterruptedException;
}
