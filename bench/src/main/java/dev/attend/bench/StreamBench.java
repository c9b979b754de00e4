package dev.attend.bench;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.SimdScorer;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.recsys.serving.Recommender;
import dev.attend.streaming.EventProducer;
import dev.attend.streaming.EventTopics;
import dev.attend.streaming.EventWire;
import dev.attend.streaming.SequenceStream;
import dev.attend.streaming.StreamEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.state.HostInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * End to end through the in-process broker: events produced at a target rate for a while (each event new, so each
 * raises its user's sequence version by one), applied by the sequence topology; reports the events/s produced
 * and applied, and the freshness (from the send of a sampled event to its user's sequence showing it in the
 * store, where a recommender reads it) p50 and p99.
 */
@Command(name = "stream", sortOptions = false,
        description = "Events through the in-process Kafka broker into the sequence store: events/s, freshness p50/p99.",
        customSynopsis = "bench stream [--rate EVENTS_PER_S] [--seconds S] [--warmup S] [--users N] [--max-per-user N] [--json FILE]",
        footer = {
            "Then the recovery after a crash: a process running the topology is killed (kill -9) in the middle of",
            "300,000 events and an instance on its state takes over; prints how long until it runs and until it",
            "has caught up."})
final class StreamBench extends BenchCommand {

    @Option(names = "--rate", paramLabel = "EVENTS_PER_S", description = "Events per second to produce (default 50000).")
    int rate = 50_000;

    @Option(names = "--seconds", paramLabel = "S", description = "How long to produce, measured (default 60).")
    int seconds = 60;

    @Option(names = "--warmup", paramLabel = "S",
            description = "Seconds of the same load before, not measured (default 30: the JIT's first half minute).")
    int warmup = 30;

    @Option(names = "--users", paramLabel = "N", description = "Users the events spread over, uniformly (default 10000).")
    int users = 10_000;

    @Option(names = "--max-per-user", paramLabel = "N", description = "The longest sequence kept (default 10000).")
    int maxPerUser = 10_000;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    StreamBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    static int run(String[] args, PrintStream out, PrintStream err) {
        return new StreamBench(out, err).execute(args);
    }

    @Override
    public Integer call() {
        check(() -> {
            if (rate < 1 || seconds < 1 || users < 1 || maxPerUser < 1 || warmup < 0) {
                throw new IllegalArgumentException("every count must be >= 1");
            }
        });
        try {
            return measure(rate, seconds, warmup, users, maxPerUser, json, out, err);
        } catch (Exception e) {
            err.println("bench stream: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    /** An event whose arrival in the store is timed: its user, the version it brings, when it was sent. */
    private record Probe(long user, long version, long sentNanos) {
    }

    private static int measure(int rate, int seconds, int warmup, int users, int maxPerUser, Path json, PrintStream out, PrintStream err)
            throws Exception {
        Path dir = Files.createTempDirectory("attend-bench-stream");
        EventTopics topics = EventTopics.defaults();
        long start;
        long produced = 0;
        long[] versions = new long[users];
        List<Long> freshness = new ArrayList<>();
        List<Long> scored = new ArrayList<>();
        AtomicLong windowMax = new AtomicLong(); // the worst since the last report // event sent -> a score of its user that includes it returned
        double producedPerSecond;
        double appliedPerSecond;
        double drainSeconds;
        double[] recovery;
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            try (Admin admin = Admin.create(p)) {
                topics.create(admin);
            }
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics,
                    new SequenceStream.Options("bench-stream", new HostInfo("localhost", 1), dir.resolve("state"), maxPerUser,
                            Duration.ofMillis(100)));
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), topics);
                 Scorer scorer = new SimdScorer(1);
                 Recommender recommender = new Recommender(scoringModel(),
                         scoringCatalog(), stream, scorer, Recommender.Options.defaults())) {
                if (!stream.awaitRunning(Duration.ofSeconds(60))) {
                    throw new IllegalStateException("the topology did not start: " + stream.state());
                }
                err.printf(Locale.ROOT, "[stream] producing %d events/s for %d s over %d users (broker %s)%n", rate, seconds, users,
                        broker.bootstrapServers());
                BlockingQueue<Probe> probes = new ArrayBlockingQueue<>(1024);
                AtomicBoolean producing = new AtomicBoolean(true);
                Thread sampler = new Thread(() -> {
                    // Each partition's events become visible in order, so only the oldest pending probe of each
                    // partition is checked (a read of the store each): one late partition does not delay the
                    // measurement of events sent after it to the others, and the checks cost 4 reads a millisecond.
                    int partitions = topics.partitions();
                    List<ArrayDeque<Probe>> pending = new ArrayList<>();
                    for (int i = 0; i < partitions; i++) {
                        pending.add(new ArrayDeque<>());
                    }
                    List<Probe> arrived = new ArrayList<>();
                    SplittableRandom candidatesRnd = new SplittableRandom(2);
                    long[] candidates = new long[SCORED_CANDIDATES];
                    try {
                        while (producing.get() || !probes.isEmpty() || pending.stream().anyMatch(q -> !q.isEmpty())) {
                            arrived.clear();
                            probes.drainTo(arrived);
                            for (Probe probe : arrived) {
                                pending.get(Utils.toPositive(
                                        Utils.murmur2(EventWire.key(probe.user()))) % partitions).add(probe);
                            }
                            long now = System.nanoTime();
                            for (ArrayDeque<Probe> q : pending) {
                                while (!q.isEmpty() && stream.version(q.peek().user()) >= q.peek().version()) {
                                    Probe probe = q.poll();
                                    freshness.add(now - probe.sentNanos());
                                    windowMax.accumulateAndGet(now - probe.sentNanos(), Math::max);
                                    // A recommender reads the user's version at each request, so the first score
                                    // asked for now includes the event: its return is when the event is in a score.
                                    // Every tenth probe only: a score a probe took a tenth of the CPU the topology had.
                                    if (freshness.size() % 10 == 0) {
                                        for (int i = 0; i < candidates.length; i++) {
                                            candidates[i] = 1 + candidatesRnd.nextInt(ITEMS);
                                        }
                                        recommender.score(probe.user(), candidates, null);
                                        scored.add(System.nanoTime() - probe.sentNanos());
                                    }
                                }
                            }
                            Thread.sleep(1);
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (IllegalStateException e) {
                        err.println("[stream] sampler: " + e.getMessage());
                    }
                }, "freshness-sampler");
                SplittableRandom rnd = new SplittableRandom(1);
                int batch = Math.max(1, rate / 50); // 50 batches a second
                List<StreamEvent> events = new ArrayList<>(batch);
                long times = 0; // unique event times: every event is new
                // Warm-up at the same rate, not measured: the JIT compiles Kafka's and the engine's code for the first
                // half minute (a compiler thread took most of a core), which a long-running server does once.
                long warmupEnd = System.nanoTime() + warmup * 1_000_000_000L;
                long warmupStart = System.nanoTime();
                long warmupSent = 0;
                while (System.nanoTime() < warmupEnd) {
                    events.clear();
                    for (int i = 0; i < batch; i++) {
                        int user = rnd.nextInt(users);
                        versions[user]++;
                        events.add(new StreamEvent(event(rnd, user, times++)));
                    }
                    producer.send(events);
                    warmupSent += batch;
                    long wait = warmupStart + (long) (warmupSent * 1e9 / rate) - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                }
                awaitApplied(stream, versions);
                // Scores too, for 3 s: otherwise the JIT compiles the scoring code in the measured window's first
                // seconds (the slowest sampled events came there).
                SplittableRandom warmScores = new SplittableRandom(5);
                long[] warmCandidates = new long[SCORED_CANDIDATES];
                for (long until = System.nanoTime() + (warmup > 0 ? 3_000_000_000L : 0); System.nanoTime() < until; ) {
                    for (int i = 0; i < warmCandidates.length; i++) {
                        warmCandidates[i] = 1 + warmScores.nextInt(ITEMS);
                    }
                    recommender.score(warmScores.nextInt(users), warmCandidates, null);
                }
                if (warmup > 0) {
                    err.printf(Locale.ROOT, "[stream] warmed up: %,d events in %d s, applied; measuring%n", warmupSent, warmup);
                }
                sampler.start();
                start = System.nanoTime();
                long end = start + seconds * 1_000_000_000L;
                long lastReport = start;
                while (System.nanoTime() < end) {
                    events.clear();
                    for (int i = 0; i < batch; i++) {
                        int user = rnd.nextInt(users);
                        versions[user]++;
                        events.add(new StreamEvent(event(rnd, user, times++)));
                    }
                    long sent = System.nanoTime();
                    int probeUser = (int) events.get(events.size() - 1).behavior().user();
                    producer.send(events);
                    probes.offer(new Probe(probeUser, versions[probeUser], sent)); // every event is new: one version each
                    produced += batch;
                    long due = start + (long) (produced * 1e9 / rate);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                    if (System.nanoTime() - lastReport > 10_000_000_000L) {
                        lastReport = System.nanoTime();
                        err.printf(Locale.ROOT, "[stream] %d s: %d events produced; the slowest sampled event of the last 10 s took %d ms%n",
                                (lastReport - start) / 1_000_000_000L, produced, windowMax.getAndSet(0) / 1_000_000);
                    }
                }
                long producedNanos = System.nanoTime() - start;
                producing.set(false);
                // drain: until every user's version is what was produced
                long drainStart = System.nanoTime();
                awaitApplied(stream, versions);
                long appliedNanos = System.nanoTime() - start;
                sampler.join(); // its lists are read after this
                producedPerSecond = produced / (producedNanos / 1e9);
                appliedPerSecond = produced / (appliedNanos / 1e9);
                drainSeconds = (System.nanoTime() - drainStart) / 1e9;
            }
            recovery = recovery(broker, topics, dir, users, maxPerUser, err);
        }
        long[] f = freshness.stream().mapToLong(Long::longValue).sorted().toArray();
        double p50 = f.length == 0 ? Double.NaN : f[f.length / 2] / 1e6;
        double p99 = f.length == 0 ? Double.NaN : f[(int) Math.ceil(0.99 * f.length) - 1] / 1e6;
        long[] sc = scored.stream().mapToLong(Long::longValue).sorted().toArray();
        double scoredP50 = sc.length == 0 ? Double.NaN : sc[sc.length / 2] / 1e6;
        double scoredP99 = sc.length == 0 ? Double.NaN : sc[(int) Math.ceil(0.99 * sc.length) - 1] / 1e6;
        Runtime rt = Runtime.getRuntime();
        double heapMb = (rt.totalMemory() - rt.freeMemory()) / 1e6;
        out.printf(Locale.ROOT, "%-12s %14s %14s %12s %16s %16s%n", "events", "produced/s", "applied/s", "drain_s", "freshness_p50_ms",
                "freshness_p99_ms");
        out.printf(Locale.ROOT, "%-12d %14.0f %14.0f %12.2f %16.1f %16.1f%n", produced, producedPerSecond, appliedPerSecond, drainSeconds, p50,
                p99);
        out.printf(Locale.ROOT, "(%d freshness samples; heap in use %.0f MB)%n", f.length, heapMb);
        out.printf(Locale.ROOT, "to a score that includes the event (DARE, %d candidates; %d samples): p50 %.1f ms, p99 %.1f ms%n",
                SCORED_CANDIDATES, sc.length, scoredP50, scoredP99);
        out.printf(Locale.ROOT, "recovery after kill -9 with %,.0f events in flight: running again in %.1f s, caught up in %.1f s%n",
                recovery[0], recovery[1], recovery[2]);
        if (json != null) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("name", "stream");
            row.put("events", produced);
            row.put("users", users);
            row.put("target_rate", rate);
            row.put("warmup_s", warmup);
            row.put("produced_per_s", producedPerSecond);
            row.put("applied_per_s", appliedPerSecond);
            row.put("drain_s", drainSeconds);
            row.put("freshness_p50_ms", p50);
            row.put("freshness_p99_ms", p99);
            row.put("freshness_samples", f.length);
            row.put("scored_candidates", SCORED_CANDIDATES);
            row.put("freshness_to_score_p50_ms", scoredP50);
            row.put("freshness_to_score_p99_ms", scoredP99);
            row.put("heap_mb", heapMb);
            row.put("recovery_events", recovery[0]);
            row.put("recovery_running_s", recovery[1]);
            row.put("recovery_caught_up_s", recovery[2]);
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("bench", "stream");
            report.put("machine", MachineInfo.describe());
            report.put("rows", List.of(row));
            Files.writeString(json, JsonWriter.write(report, 0));
        }
        deleteTree(dir);
        return 0;
    }

    /** Items and categories of the generated events (and of the model that scores them). */
    private static final int ITEMS = 100_000;
    private static final int CATEGORIES = 1_000;
    /** Candidates of the score asked for each sampled event. */
    private static final int SCORED_CANDIDATES = 100;

    /** A new event of {@code user} at {@code time}. */
    private static BehaviorEvent event(SplittableRandom rnd, int user, long time) {
        long item = 1 + rnd.nextInt(ITEMS);
        return new BehaviorEvent(user, item, item % CATEGORIES, "pv", time);
    }

    /** The model that scores the sampled users: DARE as served (attention 16, representation 64, top-20), untrained. */
    private static SequenceModel scoringModel() {
        return new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE,
                16, 64, 20, new int[] {200, 80}), ITEMS, CATEGORIES, 1);
    }

    /** Every item of the generated events, once, by a user that is never scored. */
    private static ItemCatalog scoringCatalog() {
        List<BehaviorEvent> all = new ArrayList<>(ITEMS);
        for (int i = 1; i <= ITEMS; i++) {
            all.add(new BehaviorEvent(-1, i, i % CATEGORIES, "pv", i));
        }
        return UserSequences.of(all).catalog();
    }

    /**
     * Waits until every user's version is what was produced (300 s at most); a store not queryable for a moment (a
     * task re-initialised after the crash) is asked again.
     */
    private static void awaitApplied(SequenceStream stream, long[] versions) throws InterruptedException {
        long deadline = System.nanoTime() + 300_000_000_000L;
        for (int u = 0; u < versions.length; u++) {
            String last = "";
            while (true) {
                long v;
                try {
                    v = stream.version(u);
                    last = "version " + v;
                } catch (IllegalStateException e) {
                    v = 0;
                    last = e.getMessage(); // why the store does not answer
                }
                if (v >= versions[u]) {
                    break;
                }
                Thread.sleep(5);
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("not applied after 300 s: user " + u + " wants version " + versions[u] + ", the store says: "
                            + last + " (topology " + stream.state() + ")");
                }
            }
        }
    }

    /**
     * Recovery after a crash: a process of its own ({@link StreamProcess}) runs the topology on events produced
     * as fast as they go, is killed (SIGKILL) in the middle of them, and an instance in this JVM on the same state
     * directory and instance id takes over: returns {events, seconds from the kill until it runs, seconds from
     * the kill until every event is in the store}.
     */
    private static double[] recovery(EmbeddedKafkaBroker broker, EventTopics topics, Path dir, int users, int maxPerUser, PrintStream err)
            throws Exception {
        String app = "bench-recovery";
        Path state = dir.resolve("recovery-state");
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(javaBin.toString(), "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"),
                StreamProcess.class.getName(), broker.bootstrapServers(), app, state.toString(), Integer.toString(maxPerUser))
                .redirectErrorStream(true).start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
            String line;
            while ((line = lines.readLine()) != null && !line.equals("RUNNING")) {
                if (line.startsWith("FAILED")) {
                    throw new IllegalStateException("the stream process did not start: " + line);
                }
            }
            Thread drain = new Thread(() -> lines.lines().forEach(l -> { }));
            drain.setDaemon(true);
            drain.start();
            int events = 300_000;
            long[] versions = new long[users];
            SplittableRandom rnd = new SplittableRandom(2);
            try (EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
                List<StreamEvent> batch = new ArrayList<>();
                for (int i = 0; i < events; i++) {
                    int user = rnd.nextInt(users);
                    versions[user]++;
                    batch.add(new StreamEvent(event(rnd, user, i)));
                    if (batch.size() == 10_000) {
                        producer.send(batch);
                        batch.clear();
                    }
                }
                producer.send(batch);
            }
            Thread.sleep(3000); // the process is in the middle of them
            long killed = System.nanoTime();
            child.destroyForcibly().waitFor();
            err.printf(Locale.ROOT, "[stream] killed the stream process (kill -9) with %,d events sent; restarting on its state%n", events);
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics,
                    new SequenceStream.Options(app, new HostInfo("localhost", 1), state, maxPerUser, Duration.ofMillis(100)))) {
                if (!stream.awaitRunning(Duration.ofSeconds(120))) {
                    throw new IllegalStateException("the topology did not restart: " + stream.state());
                }
                double running = (System.nanoTime() - killed) / 1e9;
                awaitApplied(stream, versions);
                return new double[] {events, running, (System.nanoTime() - killed) / 1e9};
            }
        } finally {
            child.destroyForcibly();
        }
    }

    private static void deleteTree(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary directory left behind
        }
    }
}
