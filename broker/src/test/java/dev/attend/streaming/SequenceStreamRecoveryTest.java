package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recovery after {@code kill -9}, again and again, under load (what {@code bench stream}'s recovery phase does
 * once): a process of its own runs the topology while events keep arriving, is killed, and an instance in this JVM
 * on the same state directory and instance id takes over; it must run again and hold every event acknowledged
 * before the kill, each cycle, with the time each took printed. Each restart meets the corrupted-task path (under
 * exactly-once a killed new instance leaves its store with data and no checkpoint: wiped and restored from the
 * changelog),
 * where the in-memory meta store once stayed closed to reads for good (see {@code MetaStore}): reads failed and
 * the recovery never ended. At the end every user's version is the number of its events: each applied once.
 */
class SequenceStreamRecoveryTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("SequenceStreamRecoveryTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    private static final int CYCLES = 6;
    private static final int USERS = 2_000;
    private static final String APP = "recovery-test";
    private static final int MAX_PER_USER = 10_000;
    /** Not a measure: how long a recovery may take before the test calls it hung and says why. */
    private static final Duration HUNG = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @Test
    void aTopologyKilledUnderLoadComesBackEveryTime() throws Exception {
        EventTopics topics = EventTopics.defaults();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"));
             EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
            SequenceStreamTest.createTopics(broker, topics);
            Load load = new Load(producer);
            Thread loader = new Thread(load, "recovery-test-load");
            loader.setDaemon(true);
            loader.start();
            List<String> report = new ArrayList<>();
            try {
                for (int cycle = 1; cycle <= CYCLES; cycle++) {
                    // A state directory of its own each cycle, as a new instance's: the child restores its share
                    // from the changelog, applies events and is killed before any clean close, so its store holds
                    // data with no committed offsets and the restart below meets the corrupted-task path (wipe,
                    // restore, revive) every time. (On a directory a clean close left, it does not.)
                    Path state = dir.resolve("state-" + cycle);
                    Process child = startProcess(broker, state);
                    try {
                        long before = load.acknowledged();
                        // the child applies events for a while: killed in the middle of a transaction
                        while (load.acknowledged() < before + 20_000 && load.failure.get() == null && loader.isAlive()) {
                            Thread.sleep(50);
                        }
                        assertThat(load.failure.get()).as("the load's producer").isNull();
                        assertThat(loader.isAlive()).as("the load runs").isTrue();
                        assertThat(child.isAlive()).as("the stream process runs").isTrue();
                    } finally {
                        child.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL: no shutdown hook, no commit
                    }
                    long killed = System.nanoTime();
                    long[] sent = load.versions(); // acknowledged before the kill
                    try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics, options(state))) {
                        assertThat(stream.awaitRunning(HUNG)).as("cycle %d: running again (state %s)", cycle, stream.state()).isTrue();
                        double running = (System.nanoTime() - killed) / 1e9;
                        awaitVersions(stream, sent, cycle, false);
                        double caughtUp = (System.nanoTime() - killed) / 1e9;
                        String line = String.format(Locale.ROOT, "cycle %d: killed with %,d events acknowledged; running again in %.1f s,"
                                + " caught up in %.1f s", cycle, Arrays.stream(sent).sum(), running, caughtUp);
                        report.add(line);
                        System.out.println("[recovery] " + line);
                        if (cycle == CYCLES) {
                            load.stop();
                            loader.join(30_000);
                            assertThat(load.failure.get()).as("the load's producer").isNull();
                            awaitVersions(stream, load.versions(), cycle, true);
                        }
                    }
                }
            } finally {
                load.stop();
            }
            assertThat(report).hasSize(CYCLES);
        }
    }

    private static SequenceStream.Options options(Path state) {
        return new SequenceStream.Options(APP, new HostInfo("localhost", 1), state, MAX_PER_USER, Duration.ofMillis(100));
    }

    /**
     * Waits until every user's version reaches what was sent ({@code exact}: equals it, every event applied once);
     * fails after {@link #HUNG} saying which user is behind and what the last read said.
     */
    private static void awaitVersions(SequenceStream stream, long[] want, int cycle, boolean exact) throws InterruptedException {
        long deadline = System.nanoTime() + HUNG.toNanos();
        for (int u = 0; u < want.length; u++) {
            String last = "";
            long got;
            while (true) {
                try {
                    got = stream.version(u);
                    last = "version " + got;
                } catch (IllegalStateException e) {
                    got = -1;
                    last = e.getMessage();
                }
                if (got >= want[u]) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(String.format(Locale.ROOT, "cycle %d: user %d not caught up %d s after the kill: want version %d,"
                            + " the store says: %s (state %s)", cycle, u, HUNG.toSeconds(), want[u], last, stream.state()));
                }
                Thread.sleep(5);
            }
            if (exact) {
                assertThat(got).as("user %d: each of its events applied once", u).isEqualTo(want[u]);
            }
        }
    }

    /** Events for random users, each new (a time of its own), sent in acknowledged batches until stopped. */
    private static final class Load implements Runnable {

        private final EventProducer producer;
        private final long[] versions = new long[USERS];
        private final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private long acknowledged;

        Load(EventProducer producer) {
            this.producer = producer;
        }

        @Override
        public void run() {
            SplittableRandom rnd = new SplittableRandom(SEED + 11);
            long time = 1_000_000;
            try {
                while (running.get()) {
                    List<StreamEvent> batch = new ArrayList<>(500);
                    int[] users = new int[500];
                    for (int i = 0; i < users.length; i++) {
                        users[i] = rnd.nextInt(USERS);
                        batch.add(new StreamEvent(new BehaviorEvent(users[i], 1 + rnd.nextInt(100_000), 1 + rnd.nextInt(100), "pv", time++)));
                    }
                    producer.send(batch);
                    synchronized (this) {
                        for (int user : users) {
                            versions[user]++;
                        }
                        acknowledged += users.length;
                    }
                    Thread.sleep(25);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException | Error e) {
                failure.set(e);
            } finally {
                if (running.get() && failure.get() == null) {
                    failure.set(new IllegalStateException("the load stopped on its own"));
                }
            }
        }

        synchronized long[] versions() {
            return versions.clone();
        }

        synchronized long acknowledged() {
            return acknowledged;
        }

        void stop() {
            running.set(false);
        }
    }

    private static Process startProcess(EmbeddedKafkaBroker broker, Path state) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"), SequenceStreamProcess.class.getName(),
                broker.bootstrapServers(), APP, state.toString(), Integer.toString(MAX_PER_USER))
                .redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        List<String> seen = new ArrayList<>();
        while ((line = out.readLine()) != null) {
            if (line.equals("RUNNING")) {
                Thread drain = new Thread(() -> out.lines().forEach(l -> { }));
                drain.setDaemon(true);
                drain.start();
                return p;
            }
            seen.add(line);
            if (line.startsWith("FAILED")) {
                break;
            }
        }
        p.destroyForcibly();
        throw new AssertionError("the stream process did not start: " + String.join("\n", seen.subList(Math.max(0, seen.size() - 20), seen.size())));
    }
}
