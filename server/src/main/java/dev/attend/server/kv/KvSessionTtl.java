package dev.attend.server.kv;

import dev.attend.index.store.ResourceId;
import dev.attend.retrieval.KvSessions;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The time-to-live of KV sessions: when each session was last used, and a sweeper thread that deletes the sessions
 * idle for longer (files included). Deletes hold the store's lock, as the routes' creates and deletes do.
 */
final class KvSessionTtl implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KvSessionTtl.class);

    private final KvSessions sessions;
    private final Duration ttl;
    /** When each session was last used (System.nanoTime). */
    private final Map<String, Long> lastUsed = new ConcurrentHashMap<>();
    private final ScheduledExecutorService sweeper;
    private final AtomicLong expired = new AtomicLong();

    /** Starts the clock of every session already in {@code sessions}; a {@code ttl} of zero: sessions never expire. */
    KvSessionTtl(KvSessions sessions, Duration ttl) {
        this.sessions = sessions;
        this.ttl = Objects.requireNonNull(ttl, "ttl");
        long now = System.nanoTime();
        for (String id : sessions.ids()) {
            lastUsed.put(id, now); // a restart counts as a use: the clock starts again
        }
        if (ttl.isZero()) {
            sweeper = null;
        } else {
            sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "attend-kv-session-ttl");
                t.setDaemon(true);
                return t;
            });
            long period = Math.clamp(ttl.toMillis() / 10, 100, 60_000);
            sweeper.scheduleWithFixedDelay(this::expireIdle, period, period, TimeUnit.MILLISECONDS);
        }
    }

    /** Session {@code id} was used now. */
    void touch(String id) {
        lastUsed.put(id, System.nanoTime());
    }

    /** Session {@code id} was deleted. */
    void forget(String id) {
        lastUsed.remove(id);
    }

    /** Sessions deleted after their time-to-live. */
    AtomicLong expired() {
        return expired;
    }

    /** Deletes the sessions idle for longer than the time-to-live. */
    void expireIdle() {
        long now = System.nanoTime();
        for (String id : sessions.ids()) {
            synchronized (sessions) {
                Long used = lastUsed.get(id);
                try {
                    if (used != null && now - used > ttl.toNanos() && sessions.delete(id)) {
                        lastUsed.remove(id);
                        expired.incrementAndGet();
                    }
                } catch (RuntimeException e) { // a failed delete leaves the session served; the next sweep tries again
                    LOG.warn("Could not expire KV session {}: {}", ResourceId.shown(id), e.toString());
                }
            }
        }
    }

    @Override
    public void close() {
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
    }
}
