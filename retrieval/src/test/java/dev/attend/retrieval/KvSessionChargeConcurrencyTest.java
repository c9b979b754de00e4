package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions closed (deleted) while writers run (review finding 13): a write under way when its session closes either
 * finishes before the close releases the session's bytes or is refused with {@link KvSessionClosedException}; nothing is
 * released twice or kept after the close, so the store's total is exactly what its live sessions hold. Randomised
 * (seed printed; {@code -Dattend.test.seed=N} repeats a run); nothing is timed.
 */
class KvSessionChargeConcurrencyTest {

    private static final long SEED = Long.getLong("attend.test.seed", 43L);
    private static final int WRITERS = 4;
    private static final int IDS = 3;
    /** Sessions deleted (closed) under the writers per round. */
    private static final int DELETES = 300;
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        System.out.println("KvSessionChargeConcurrencyTest seed " + SEED);
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    /** One KV head per writer; a window no write fills, so no index build slows the writers down. */
    private static KvSessionConfig config() {
        return new KvSessionConfig(1, WRITERS, 1, 8, 4, 1 << 20, 20, 0.35f, new AttentionAwareIndex.Params(16, 30, 4, 32, 4),
                Precision.FLOAT32, KvSessionConfig.Retriever.ATTENTION_AWARE, false, HeadPolicies.defaults());
    }

    /** What a session holding these tokens must be charged: its fixed part, and per head written its overhead and tokens. */
    private static long expected(KvSession s) {
        KvSessionConfig c = s.config();
        long bytes = KvSessionLimits.fixedBytes(c);
        for (int h = 0; h < c.kvHeads(); h++) {
            int n = s.length(0, h);
            bytes += n == 0 ? 0 : KvSessionLimits.HEAD_OVERHEAD_BYTES + n * KvSessionLimits.tokenBytes(c);
        }
        return bytes;
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        float[][] out = new float[n][8];
        for (float[] r : out) {
            for (int c = 0; c < r.length; c++) {
                r[c] = (float) rnd.nextGaussian();
            }
        }
        return out;
    }

    @Test
    void closingSessionsUnderWritersLeavesTheStoreTotalExactlyTheLiveSessionsCharges(@TempDir Path tmp) throws Exception {
        // Memory-backed where there is one: a delete and a create force the disk, and many of them must overlap the writes.
        Path shm = Path.of("/dev/shm");
        Path base = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "attend-kv-charge-") : tmp;
        try {
            for (int round = 0; round < 4; round++) {
                round(base.resolve("r" + round), SEED * 100 + round);
            }
        } finally {
            if (!base.equals(tmp)) {
                try (Stream<Path> all = Files.walk(base)) {
                    for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
    }

    private static void round(Path root, long seed) throws Exception {
        try (KvSessionStore store = new KvSessionStore(root, scorer, Runnable::run, Runnable::run, KvDurability.PROCESS)) {
            run(store, seed);
            long live = 0;
            for (String id : store.ids()) {
                KvSession s = store.get(id);
                assertThat(s.chargedBytes()).as("[seed %d] session %s: its charge is what it holds", seed, id).isEqualTo(expected(s));
                live += s.chargedBytes();
            }
            assertThat(store.chargedBytes()).as("[seed %d] the store's total is its live sessions' charges", seed).isEqualTo(live);
            for (String id : store.ids()) {
                KvSession s = store.get(id);
                assertThat(store.delete(id)).isTrue();
                assertThatThrownBy(() -> s.append(0, 0, s.length(0, 0), rows(new SplittableRandom(seed), 1)[0],
                        rows(new SplittableRandom(seed), 1)[0])).isInstanceOf(KvSessionClosedException.class)
                        .hasMessageContaining("closed");
            }
            assertThat(store.chargedBytes()).as("[seed %d] nothing left once every session is deleted", seed).isZero();
        }
    }

    /** Writers append and prefill while one thread deletes and recreates sessions and injects journal failures. */
    private static void run(KvSessionStore store, long seed) throws Exception {
        for (int i = 0; i < IDS; i++) {
            store.create("s" + i, config());
        }
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        AtomicLong refusedClosed = new AtomicLong();
        AtomicLong failedIo = new AtomicLong();
        AtomicLong written = new AtomicLong();
        AtomicLong deletes = new AtomicLong();
        CountDownLatch started = new CountDownLatch(WRITERS + 1);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            int head = w;
            SplittableRandom rnd = new SplittableRandom(seed * 31 + w);
            threads.add(new Thread(() -> {
                started.countDown();
                try {
                    started.await();
                    while (deletes.get() < DELETES) {
                        KvSession s = store.get("s" + rnd.nextInt(IDS));
                        if (s == null) {
                            continue;
                        }
                        int n = 1 + (rnd.nextInt(4) == 0 ? rnd.nextInt(8) : 0);
                        float[][] keys = rows(rnd, n);
                        try {
                            int at = s.length(0, head); // the only writer of this head
                            if (n == 1) {
                                s.append(0, head, at, keys[0], keys[0]);
                            } else {
                                s.prefill(0, head, at, keys, keys, new float[0][]);
                            }
                            written.incrementAndGet();
                        } catch (KvSessionClosedException e) {
                            refusedClosed.incrementAndGet();
                        } catch (UncheckedIOException e) { // an injected failure, or a journal closed under a write
                            failedIo.incrementAndGet();
                        }
                    }
                } catch (Throwable t) {
                    unexpected.add(t);
                }
            }, "writer-" + w));
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        Thread closer = new Thread(() -> {
            started.countDown();
            try {
                started.await();
                while (deletes.get() < DELETES) {
                    String id = "s" + rnd.nextInt(IDS);
                    KvSession s = store.get(id);
                    int what = rnd.nextInt(3);
                    if (s == null) {
                        store.create(id, config());
                    } else if (what == 0) {
                        s.journal().injectFault(rnd.nextInt(60), new IOException(rnd.nextBoolean() ? "No space left on device" : "Input/output error"));
                    } else if (what == 1) {
                        assertThat(store.delete(id)).isTrue();
                        deletes.incrementAndGet();
                    } else {
                        Thread.yield(); // the writers go on a while
                    }
                }
            } catch (Throwable t) {
                unexpected.add(t);
            }
        }, "closer");
        threads.forEach(Thread::start);
        closer.start();
        for (Thread t : threads) {
            t.join();
        }
        closer.join();
        System.out.printf("[seed %d] %d writes, %d refused (closed), %d failed (I/O), %d deletes%n", seed, written.get(),
                refusedClosed.get(), failedIo.get(), deletes.get());
        assertThat(unexpected).as("[seed %d]", seed).isEmpty();
        assertThat(written.get()).isPositive();
        assertThat(deletes.get()).isPositive();
    }
}
