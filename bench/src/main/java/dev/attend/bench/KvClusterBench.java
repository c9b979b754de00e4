package dev.attend.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.retrieval.HeadPolicies;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.streaming.KvTopicLog;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * KV sessions shared by instances of {@code attend serve} through a KV topic (issue 25), each instance a process of
 * its own on an in-process broker: sessions created and prefilled, then decode steps (one {@code decode-layer} call per
 * layer, to an instance picked at random, which forwards to the owner) from client threads for a timed phase with 1,
 * then 2, ... instances (each added instance a rebalance, timed until every session is served again); then the
 * instance holding the most sessions killed with SIGKILL while the clients go on: the time until its sessions are
 * served again, and the phase's throughput.
 * A call that fails (the instance gone, a write of unknown outcome) is reconciled as a client must: the session's
 * length read back says whether the write is in (then it counts as acknowledged) or must be sent again. At the end
 * every session is checked against a copy kept in this process that applied exactly the acknowledged writes: the same
 * tokens per head and the same answers, bit for bit (sessions use the {@code full} policy: exact attention, so that
 * answers compare exactly).
 */
@Command(name = "kv-cluster", sortOptions = false,
        description = "KV sessions over instances of attend serve through Kafka: throughput with 1..N instances, failover after kill -9.",
        customSynopsis = "bench kv-cluster [--instances N] [--sessions S] [--tokens T] [--layers L] [--kv-heads H] [--head-dim D] "
                + "[--clients C] [--phase-seconds P] [--kill K] [--standbys 0|1] [--snapshots true|false] [--capacity-bytes B] [--json FILE]")
final class KvClusterBench extends BenchCommand {

    @Option(names = "--instances", paramLabel = "N", description = "Instances, started one after another (default 3).")
    int instances = 3;

    @Option(names = "--sessions", paramLabel = "S", description = "Sessions (default 12).")
    int sessions = 12;

    @Option(names = "--tokens", paramLabel = "T", description = "Prefill tokens per KV head (default 1024).")
    int tokens = 1024;

    @Option(names = "--layers", paramLabel = "L", description = "Layers (default 2).")
    int layers = 2;

    @Option(names = "--kv-heads", paramLabel = "H", description = "KV heads per layer (default 2).")
    int kvHeads = 2;

    @Option(names = "--query-heads-per-kv", paramLabel = "G", description = "Query heads per KV head (default 2).")
    int queryHeadsPerKv = 2;

    @Option(names = "--head-dim", paramLabel = "D", description = "Head dimension (default 64).")
    int headDim = 64;

    @Option(names = "--clients", paramLabel = "C", description = "Client threads, each writing its own sessions (default 4).")
    int clients = 4;

    @Option(names = "--phase-seconds", paramLabel = "P", description = "Seconds each timed phase runs (default 10).")
    double phaseSeconds = 10;

    @Option(names = "--warmup-seconds", paramLabel = "W", description = "Untimed decode steps before each phase (a new instance's JIT "
            + "warms up; default 3).")
    double warmupSeconds = 3;

    @Option(names = "--kill", paramLabel = "K", description = "Instances killed with SIGKILL together after the last phase, those "
            + "holding the most sessions (default 1; 0: none).")
    int kill = 1;

    @Option(names = "--standbys", paramLabel = "0|1", description = "Standby copies per session (attend.kafka-kv-standbys; default 0).")
    int standbys = 0;

    @Option(names = "--member-timeout-ms", paramLabel = "MS", description = "attend.kafka-kv-member-timeout-ms of the instances (default "
            + "10000): how long a killed instance keeps its partitions.")
    long memberTimeoutMs = 10_000;

    @Option(names = "--snapshots", arity = "1", paramLabel = "true|false", description = "attend.kafka-kv-snapshots of the instances (default true): "
            + "local snapshots of their partitions, a journal write after each acknowledged write.")
    boolean snapshots = true;

    @Option(names = "--capacity-bytes", paramLabel = "BYTES", description = "Instead of throughput and failover: each instance's "
            + "attend.kv-max-total-bytes; sessions of the shape are created and prefilled until the instances hold no more, with 1..N "
            + "instances (how many sessions a deployment holds as it grows).")
    Long capacityBytes;

    @Option(names = "--heap", paramLabel = "SIZE", description = "Each instance's -Xmx (default 1g).")
    String heap = "1g";

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOPIC = "bench.kv";
    /** Tokens per prefill call (a JSON body of some 4 MB at d = 64). */
    private static final int PREFILL_CHUNK = 4096;
    private static final int PARTITIONS = 12;
    private static final Duration SETTLE = Duration.ofSeconds(120);
    /**
     * How far a served answer may be from this process's copy's (relative L2): exact attention over the same keys
     * differs between JVMs in the last bits only (a compiled lane reduction adds in another order than the
     * interpreter), some 1e-7; a lost or doubled token moves it by far more.
     */
    private static final double TOLERANCE = 1e-5;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    KvClusterBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** One instance process and its address. */
    private record Instance(int number, Process process, String url, Path log) {
    }

    /** A session's copy in this process and what its client has acknowledged. */
    private static final class Tracked {
        final String id;
        final KvSession reference;
        final SplittableRandom rnd;
        int position;

        Tracked(String id, KvSession reference, long seed, int position) {
            this.id = id;
            this.reference = reference;
            this.rnd = new SplittableRandom(seed);
            this.position = position;
        }
    }

    private final List<Instance> live = new CopyOnWriteArrayList<>();
    private final AtomicLong failedCalls = new AtomicLong();
    private final AtomicLong landedUnacknowledged = new AtomicLong();
    private final AtomicLong resent = new AtomicLong();

    @Override
    public Integer call() {
        check(() -> {
            if (instances < 1 || sessions < 1 || tokens < 1 || layers < 1 || kvHeads < 1 || queryHeadsPerKv < 1 || headDim < 1 || clients < 1
                    || phaseSeconds <= 0) {
                throw new IllegalArgumentException("every count must be >= 1 and --phase-seconds > 0");
            }
            if (standbys < 0 || standbys > 1) {
                throw new IllegalArgumentException("--standbys must be 0 or 1");
            }
            if (capacityBytes != null && capacityBytes < 1) {
                throw new IllegalArgumentException("--capacity-bytes must be >= 1");
            }
            if (capacityBytes == null && (kill < 0 || kill >= instances)) {
                throw new IllegalArgumentException("--kill must be 0 to " + (instances - 1) + ": one instance must be left");
            }
        });
        Path dir = null;
        try {
            dir = Files.createTempDirectory("attend-kv-cluster");
            Map<String, Object> report = measure(dir);
            if (json != null) {
                Files.writeString(json, JsonWriter.write(report, 1) + "\n");
            }
            return Boolean.TRUE.equals(report.get("verified")) ? 0 : 1;
        } catch (Exception e) {
            err.println("bench kv-cluster: " + e);
            e.printStackTrace(err);
            return 1;
        } finally {
            for (Instance i : live) {
                i.process().destroyForcibly();
            }
            if (dir != null) {
                if (System.getenv("ATTEND_KEEP_KV_CLUSTER") == null) { deleteTree(dir); } else { err.println("[kv-cluster] kept " + dir); }
            }
        }
    }

    private Map<String, Object> measure(Path dir) throws Exception {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("bench", "kv-cluster");
        report.put("machine", MachineInfo.describe());
        report.put("instances", instances);
        report.put("sessions", sessions);
        report.put("shape", layers + " layers x " + kvHeads + " KV heads x " + queryHeadsPerKv + " query heads each, d = " + headDim);
        report.put("prefill_tokens", tokens);
        report.put("clients", clients);
        report.put("partitions", PARTITIONS);
        report.put("policy", "full");
        report.put("standbys", standbys);
        report.put("snapshots", snapshots);
        report.put("member_timeout_ms", memberTimeoutMs);
        List<Map<String, Object>> phases = new ArrayList<>();
        report.put("phases", phases);
        if (capacityBytes != null) {
            return capacity(dir, report, phases);
        }
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("broker")); Scorer scorer = Scorers.create("simd")) {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            try (Admin admin = Admin.create(p)) {
                KvTopicLog.createTopic(admin, TOPIC, PARTITIONS, (short) 1);
            }
            String app = "bench-kv-" + System.nanoTime();
            start(1, broker.bootstrapServers(), app, TOPIC, dir, Map.of());
            KvSessionConfig config = KvSessionConfig.defaults(layers, kvHeads, queryHeadsPerKv, headDim).withPolicies(new HeadPolicies("full", Map.of()));
            List<Tracked> tracked = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int s = 0; s < sessions; s++) {
                tracked.add(createAndPrefill("s" + s, config, scorer, s));
            }
            report.put("prefill_seconds", (System.nanoTime() - t0) / 1e9);
            err.printf(Locale.ROOT, "[kv-cluster] %d sessions created and prefilled (%d tokens per head) in %.1f s%n", sessions, tokens,
                    (System.nanoTime() - t0) / 1e9);
            for (int n = 1; n <= instances; n++) {
                Map<String, Object> phase = new LinkedHashMap<>();
                if (n > 1) {
                    start(n, broker.bootstrapServers(), app, TOPIC, dir, Map.of());
                    long added = System.nanoTime();
                    awaitServed(tracked);
                    phase.put("rebalance_seconds", (System.nanoTime() - added) / 1e9);
                }
                phase.put("instances", n);
                run(tracked, null, warmupSeconds);
                phase.putAll(run(tracked, null, phaseSeconds));
                phases.add(phase);
                err.printf(Locale.ROOT, "[kv-cluster] %d instance(s): %.0f layer steps/s, p50 %.2f ms, p99 %.2f ms%n", n,
                        (double) phase.get("layer_steps_per_s"), (double) phase.get("p50_ms"), (double) phase.get("p99_ms"));
            }
            if (kill > 0) {
                Map<String, Object> phase = new LinkedHashMap<>();
                // The instances holding the most sessions go.
                Map<Instance, List<String>> held = new LinkedHashMap<>();
                for (Instance i : live) {
                    HttpResponse<String> r = get(i, "/v1/kv/sessions");
                    expectOk(r, "the sessions of instance " + i.number());
                    List<String> ids = new ArrayList<>();
                    for (JsonNode n : JSON.readTree(r.body()).get("sessions")) {
                        ids.add(n.get("id").asText());
                    }
                    held.put(i, ids);
                }
                List<Instance> victims = live.stream().sorted(Comparator.comparingInt((Instance i) -> -held.get(i).size())).limit(kill).toList();
                List<String> moved = new ArrayList<>();
                victims.forEach(v -> moved.addAll(held.get(v)));
                Map<Instance, Integer> logLines = new LinkedHashMap<>();
                for (Instance i : live) {
                    logLines.put(i, lines(i.log()).size());
                }
                long[] killedAt = new long[1];
                long[] lastServed = new long[1];
                Thread monitor = new Thread(() -> {
                    try {
                        long deadline = System.nanoTime() + SETTLE.toNanos();
                        for (String id : moved) {
                            headTokens(id, 0, deadline);
                            lastServed[0] = System.nanoTime();
                        }
                    } catch (Exception e) {
                        lastServed[0] = -1;
                    }
                }, "kv-cluster-failover");
                phase.put("killed_instances", victims.stream().map(Instance::number).toList());
                phase.put("sessions_moved", moved.size());
                phase.putAll(run(tracked, () -> {
                    killedAt[0] = System.nanoTime();
                    for (Instance v : victims) {
                        v.process().destroyForcibly();
                        live.remove(v);
                    }
                    lastServed[0] = killedAt[0];
                    monitor.start();
                    err.printf(Locale.ROOT, "[kv-cluster] instance(s) %s killed (SIGKILL), holding %d sessions%n",
                            victims.stream().map(v -> Integer.toString(v.number())).toList(), moved.size());
                }, phaseSeconds));
                monitor.join();
                if (lastServed[0] < 0) {
                    throw new IllegalStateException("the killed instance's sessions were not served again within " + SETTLE.toSeconds() + " s");
                }
                phase.put("instances", live.size());
                phase.put("failover_seconds", (lastServed[0] - killedAt[0]) / 1e9);
                // Of which rebuilding from the topic (the survivors' own account; the rest is noticing the loss).
                long restoreMs = 0;
                for (Map.Entry<Instance, Integer> e : logLines.entrySet()) {
                    if (live.contains(e.getKey())) {
                        List<String> all = lines(e.getKey().log());
                        for (String line : all.subList(Math.min(e.getValue(), all.size()), all.size())) {
                            Matcher m = RESTORED.matcher(line);
                            if (m.find()) {
                                restoreMs = Math.max(restoreMs, Long.parseLong(m.group(1).replaceAll("[^0-9]", "")));
                            }
                        }
                    }
                }
                phase.put("longest_partition_restore_seconds", restoreMs / 1e3);
                phases.add(phase);
                err.printf(Locale.ROOT, "[kv-cluster] after the kill: %.0f layer steps/s; its %d sessions served again %.1f s after it "
                        + "(rebuilding a partition from the topic took at most %.2f s of that)%n", (double) phase.get("layer_steps_per_s"), moved.size(),
                        (lastServed[0] - killedAt[0]) / 1e9, restoreMs / 1e3);
            }
            report.put("failed_calls", failedCalls.get());
            report.put("landed_without_acknowledgement", landedUnacknowledged.get());
            report.put("resent", resent.get());
            Map<String, Object> check = verify(tracked);
            report.putAll(check);
            for (Tracked t : tracked) {
                t.reference.close();
            }
        }
        print(report);
        return report;
    }

    // ------------------------------------------------------------------ instances

    /**
     * For n = 1..{@link #instances}: a deployment of n instances (a topic and group of its own), each allowed
     * {@link #capacityBytes} of sessions, given sessions of the shape until 24 in a row are refused for memory (HTTP 507:
     * the instance owning their partition is full); reports the sessions held.
     */
    private Map<String, Object> capacity(Path dir, Map<String, Object> report, List<Map<String, Object>> phases) throws Exception {
        report.put("capacity_bytes_per_instance", capacityBytes);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("broker"))) {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            for (int n = 1; n <= instances; n++) {
                String topic = TOPIC + ".capacity-" + n;
                try (Admin admin = Admin.create(p)) {
                    KvTopicLog.createTopic(admin, topic, PARTITIONS, (short) 1);
                }
                String app = "bench-kv-capacity-" + n + "-" + System.nanoTime();
                Path deployment = dir.resolve("capacity-" + n);
                for (int i = 1; i <= n; i++) {
                    start(i, broker.bootstrapServers(), app, topic, deployment, Map.of("ATTEND_KV_MAX_TOTAL_BYTES", Long.toString(capacityBytes)));
                }
                awaitSpread(n);
                long t0 = System.nanoTime();
                int held = 0;
                int refusedInRow = 0;
                int tried = 0;
                SplittableRandom rnd = new SplittableRandom(n);
                while (refusedInRow < 24) {
                    String id = "c" + tried++;
                    if (createAndPrefill(id, rnd, null)) {
                        held++;
                        refusedInRow = 0;
                    } else {
                        refusedInRow++;
                    }
                }
                Map<String, Object> phase = new LinkedHashMap<>();
                phase.put("instances", n);
                phase.put("sessions_held", held);
                phase.put("sessions_refused", tried - held);
                phase.put("seconds", (System.nanoTime() - t0) / 1e9);
                phases.add(phase);
                err.printf(Locale.ROOT, "[kv-cluster] %d instance(s) of %d bytes each hold %d sessions (%d refused, 507)%n", n, capacityBytes, held,
                        tried - held);
                for (Instance i : live) {
                    i.process().destroyForcibly().waitFor();
                }
                live.clear();
            }
        }
        out.printf(Locale.ROOT, "KV sessions held by instances of %d bytes each (%s, %d prefill tokens per head)%n", capacityBytes, report.get("shape"),
                tokens);
        out.printf(Locale.ROOT, "%-10s %14s %10s%n", "instances", "sessions held", "per inst.");
        for (Map<String, Object> ph : phases) {
            int n = (int) ph.get("instances");
            out.printf(Locale.ROOT, "%-10d %14d %10.1f%n", n, (int) ph.get("sessions_held"), (int) ph.get("sessions_held") / (double) n);
        }
        report.put("verified", true); // nothing to compare: sessions are not decoded in this mode
        return report;
    }

    private static final Pattern SERVED = Pattern.compile("partitions served \\[([0-9, ]*)\\], being restored \\[\\]");

    /**
     * Waits until the {@code n} live instances serve all the topic's partitions between them, each some, none being
     * restored (their {@code /health}): sessions given before would all land on the first instance.
     */
    private void awaitSpread(int n) throws Exception {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        while (true) {
            int total = 0;
            int serving = 0;
            for (Instance i : live) {
                HttpResponse<String> r = get(i, "/health");
                Matcher m = r == null ? null : SERVED.matcher(JSON.readTree(r.body()).path("components").path("kv").path("detail").asText());
                if (m != null && m.find() && !m.group(1).isBlank()) {
                    total += m.group(1).split(",").length;
                    serving++;
                }
            }
            if (serving == n && total == PARTITIONS) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(n + " instances did not share the " + PARTITIONS + " partitions within " + SETTLE.toSeconds() + " s");
            }
            Thread.sleep(200);
        }
    }

    private void start(int number, String bootstrap, String app, String topic, Path dir, Map<String, String> env) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder b = new ProcessBuilder(javaBin.toString(), "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-XX:+UseG1GC", "-Xmx" + heap, "-cp", System.getProperty("java.class.path"),
                "dev.attend.server.cli.AttendCli", "serve", "--host", "127.0.0.1", "--port", Integer.toString(port),
                "--data-dir", dir.resolve("instance-" + number).toString(), "--kafka-bootstrap", bootstrap);
        b.environment().put("ATTEND_KAFKA_KV_TOPIC", topic);
        b.environment().put("ATTEND_KAFKA_KV_SNAPSHOTS", Boolean.toString(snapshots));
        b.environment().putAll(env);
        b.environment().put("ATTEND_KAFKA_KV_STANDBYS", Integer.toString(standbys));
        b.environment().put("ATTEND_KAFKA_KV_MEMBER_TIMEOUT_MS", Long.toString(memberTimeoutMs));
        b.environment().put("ATTEND_KAFKA_APPLICATION_ID", app);
        b.environment().put("ATTEND_KAFKA_EVENTS_TOPIC", app + ".events");
        b.redirectErrorStream(true);
        Files.createDirectories(dir);
        Path log = dir.resolve("instance-" + number + ".log");
        Process process = b.start();
        CountDownLatch up = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                 PrintWriter to = new PrintWriter(Files.newBufferedWriter(log))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    to.println(line);
                    to.flush();
                    if (line.startsWith("Attend listening on")) {
                        up.countDown();
                    }
                }
            } catch (IOException e) {
                // the process is gone
            }
        }, "kv-cluster-instance-" + number);
        reader.setDaemon(true);
        reader.start();
        if (!up.await(SETTLE.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("instance " + number + " did not start; its log: " + tail(log));
        }
        live.add(new Instance(number, process, "http://127.0.0.1:" + port, log));
        err.printf(Locale.ROOT, "[kv-cluster] instance %d up at 127.0.0.1:%d (pid %d)%n", number, port, process.pid());
    }

    /** A KV cluster instance's line on a partition it rebuilt from the topic ({@code KvCluster}). */
    private static final Pattern RESTORED = Pattern.compile("restored from .+? in ([0-9,.\u00a0\u202f]+) ms");

    private static List<String> lines(Path log) {
        try {
            return Files.readAllLines(log);
        } catch (IOException e) {
            return List.of();
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    // ------------------------------------------------------------------ clients

    private Tracked createAndPrefill(String id, KvSessionConfig config, Scorer scorer, long seed) throws Exception {
        Tracked t = new Tracked(id, new KvSession(id, config, scorer, Runnable::run), 1000 + seed, tokens);
        if (!createAndPrefill(id, t.rnd, t.reference)) {
            throw new IllegalStateException("session " + id + " was refused for memory (507)");
        }
        return t;
    }

    /**
     * Creates session {@code id} and prefills every head with rows drawn from {@code rnd} (applied to {@code reference}
     * too when not null); false, and the session deleted, when its instance refuses it for memory (507).
     */
    private boolean createAndPrefill(String id, SplittableRandom rnd, KvSession reference) throws Exception {
        Map<String, Object> create = new LinkedHashMap<>();
        create.put("id", id);
        create.put("layers", layers);
        create.put("kvHeads", kvHeads);
        create.put("queryHeadsPerKvHead", queryHeadsPerKv);
        create.put("headDim", headDim);
        create.put("policy", "full");
        HttpResponse<String> made = untilServed(() -> post(anyInstance(), "/v1/kv/sessions", create));
        if (made != null && made.statusCode() == 507) {
            return false;
        }
        expectOk(made, "create " + id);
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                for (int from = 0; from < tokens; from += PREFILL_CHUNK) {
                    int n = Math.min(PREFILL_CHUNK, tokens - from);
                    float[][] keys = rows(rnd, n);
                    float[][] values = rows(rnd, n);
                    float[][] queries = rows(rnd, Math.max(1, n / 8));
                    Map<String, Object> body = new LinkedHashMap<>();
                    body.put("layer", l);
                    body.put("kvHead", h);
                    body.put("from", from);
                    body.put("keys", keys);
                    body.put("values", values);
                    body.put("queries", queries);
                    body.put("more", from + n < tokens);
                    HttpResponse<String> r = untilServed(() -> post(anyInstance(), "/v1/kv/sessions/" + id + "/prefill", body));
                    if (r != null && r.statusCode() == 507) {
                        expectOk(untilServed(() -> delete(anyInstance(), "/v1/kv/sessions/" + id)), "delete " + id);
                        return false;
                    }
                    expectOk(r, "prefill " + id);
                    if (reference != null) {
                        reference.prefill(l, h, from, keys, values, queries, from + n < tokens);
                    }
                }
            }
        }
        return true;
    }

    /**
     * Decode steps from {@link #clients} threads for {@code seconds}, each thread its own sessions; {@code midway}
     * (when not null) runs a third of the way in. Returns the phase's throughput and latency.
     */
    private Map<String, Object> run(List<Tracked> tracked, Runnable midway, double seconds) throws InterruptedException {
        AtomicBoolean stop = new AtomicBoolean();
        List<long[]> latencies = new CopyOnWriteArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            int client = c;
            Thread t = new Thread(() -> {
                long[] own = new long[1 << 16];
                int count = 0;
                List<Tracked> mine = new ArrayList<>();
                for (int i = client; i < tracked.size(); i += clients) {
                    mine.add(tracked.get(i));
                }
                try {
                    for (int i = 0; !stop.get() && !mine.isEmpty(); i = (i + 1) % mine.size()) {
                        Tracked s = mine.get(i);
                        for (int l = 0; l < layers; l++) {
                            long t0 = System.nanoTime();
                            step(s, l);
                            if (count < own.length) {
                                own[count++] = System.nanoTime() - t0;
                            }
                        }
                        s.position++;
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
                latencies.add(Arrays.copyOf(own, count));
            }, "kv-cluster-client-" + c);
            threads.add(t);
            t.start();
        }
        long phase = (long) (seconds * 1e9);
        if (midway != null) {
            Thread.sleep(phase / 3 / 1_000_000);
            midway.run();
            Thread.sleep((phase - phase / 3) / 1_000_000);
        } else {
            Thread.sleep(phase / 1_000_000);
        }
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
        double took = (System.nanoTime() - start) / 1e9;
        if (!failures.isEmpty()) {
            throw new IllegalStateException("a client failed: " + failures.getFirst(), failures.getFirst());
        }
        long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seconds", took);
        m.put("layer_steps", all.length);
        m.put("layer_steps_per_s", all.length / took);
        m.put("tokens_per_s", all.length / took / layers);
        m.put("p50_ms", all.length == 0 ? 0.0 : all[all.length / 2] / 1e6);
        m.put("p99_ms", all.length == 0 ? 0.0 : all[Math.min(all.length - 1, (int) (all.length * 0.99))] / 1e6);
        m.put("max_ms", all.length == 0 ? 0.0 : all[all.length - 1] / 1e6);
        return m;
    }

    /**
     * One decode-layer call of session {@code s} at its position, to a live instance at random, until it is known to
     * be in. A call without an answer may still land (a forwarded copy in flight), so it is sent again rather than
     * reconciled by a read: the position lets at most one copy in, and a copy refused as out of order is settled by
     * reading the session's length back (in: acknowledged by the copy that landed).
     */
    private void step(Tracked s, int layer) throws Exception {
        float[][] keys = rows(s.rnd, kvHeads);
        float[][] values = rows(s.rnd, kvHeads);
        float[][] queries = rows(s.rnd, kvHeads * queryHeadsPerKv);
        Map<String, Object> body = Map.of("layer", layer, "position", s.position, "keys", keys, "values", values, "queries", queries);
        long deadline = System.nanoTime() + SETTLE.toNanos();
        boolean unanswered = false;
        while (true) {
            HttpResponse<String> r = post(anyInstance(), "/v1/kv/sessions/" + s.id + "/decode-layer", body);
            if (r != null && r.statusCode() == 200) {
                break;
            }
            if (r != null && r.statusCode() / 100 == 4) {
                if (unanswered && r.statusCode() == 400 && r.body().contains("out of order") && headTokens(s.id, layer, deadline) == s.position + 1) {
                    landedUnacknowledged.incrementAndGet();
                    break;
                }
                throw new IllegalStateException("decode-layer of " + s.id + " at " + s.position + " refused: " + r.statusCode() + " " + r.body());
            }
            failedCalls.incrementAndGet();
            unanswered = true;
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("decode-layer of " + s.id + " at " + s.position + " not taken within " + SETTLE.toSeconds() + " s");
            }
            resent.incrementAndGet();
            Thread.sleep(50);
        }
        s.reference.decodeLayer(layer, s.position, keys, values, queries, KvSession.DEFAULT_BUDGET);
    }

    /** The tokens KV head 0 of {@code layer} of session {@code id} holds, read from whichever instance serves it now. */
    private int headTokens(String id, int layer, long deadline) throws Exception {
        while (true) {
            HttpResponse<String> r = get(anyInstance(), "/v1/kv/sessions/" + id);
            if (r != null && r.statusCode() == 200) {
                for (JsonNode h : JSON.readTree(r.body()).get("heads")) {
                    if (h.get("layer").asInt() == layer && h.get("kvHead").asInt() == 0) {
                        return h.get("tokens").asInt();
                    }
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("session " + id + " not served within " + SETTLE.toSeconds() + " s");
            }
            Thread.sleep(50);
        }
    }

    /** Waits until every session answers 200 from an instance; returns when (nanoTime). */
    private long awaitServed(List<Tracked> tracked) throws Exception {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        for (Tracked t : tracked) {
            headTokens(t.id, 0, deadline);
        }
        return System.nanoTime();
    }

    /** Every session against its copy: tokens per head and the answers of fresh queries, compared exactly. */
    private Map<String, Object> verify(List<Tracked> tracked) throws Exception {
        long lost = 0;
        long mismatched = 0;
        long compared = 0;
        double worst = 0;
        SplittableRandom rnd = new SplittableRandom(99);
        for (Tracked t : tracked) {
            HttpResponse<String> r = untilServed(() -> get(anyInstance(), "/v1/kv/sessions/" + t.id));
            expectOk(r, "describe " + t.id);
            for (JsonNode h : JSON.readTree(r.body()).get("heads")) {
                int want = t.reference.length(h.get("layer").asInt(), h.get("kvHead").asInt());
                if (h.get("tokens").asInt() != want) {
                    lost++;
                    err.printf(Locale.ROOT, "[kv-cluster] %s layer %d head %d: %d tokens served, %d acknowledged%n", t.id, h.get("layer").asInt(),
                            h.get("kvHead").asInt(), h.get("tokens").asInt(), want);
                }
            }
            for (int l = 0; l < layers; l++) {
                List<Map<String, Object>> queries = new ArrayList<>();
                List<float[]> sent = new ArrayList<>();
                for (int q = 0; q < kvHeads * queryHeadsPerKv; q++) {
                    float[] v = rows(rnd, 1)[0];
                    sent.add(v);
                    queries.add(Map.of("queryHead", q, "query", v));
                }
                int layer = l;
                HttpResponse<String> a = untilServed(() -> post(anyInstance(), "/v1/kv/sessions/" + t.id + "/attend", Map.of("layer", layer, "queries", queries)));
                expectOk(a, "attend " + t.id);
                JsonNode results = JSON.readTree(a.body()).get("results");
                for (int q = 0; q < sent.size(); q++) {
                    float[] want = t.reference.attend(l, q, sent.get(q), KvSessionConfig.defaultBudget(t.reference.length(l, q / queryHeadsPerKv), t.reference.config().topK())).output();
                    JsonNode got = results.get(q).get("output");
                    compared++;
                    double diff = 0;
                    double norm = 0;
                    for (int c = 0; c < want.length; c++) {
                        double d = got.get(c).asDouble() - want[c];
                        diff += d * d;
                        norm += (double) want[c] * want[c];
                    }
                    double relative = Math.sqrt(diff / Math.max(norm, 1e-30));
                    worst = Math.max(worst, relative);
                    if (relative > TOLERANCE) {
                        mismatched++;
                        err.printf(Locale.ROOT, "[kv-cluster] %s layer %d query head %d: served answer %.3g off (relative)%n", t.id, l, q, relative);
                    }
                }
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("heads_with_other_lengths", lost);
        m.put("answers_compared", compared);
        m.put("answers_different", mismatched);
        m.put("largest_relative_difference", worst);
        m.put("verified", lost == 0 && mismatched == 0);
        return m;
    }

    // ------------------------------------------------------------------ HTTP

    private interface Call {
        HttpResponse<String> call() throws Exception;
    }

    /** A call made again while it answers 502/503 or no answer (a rebalance, a restore), for up to {@link #SETTLE}. */
    private static HttpResponse<String> untilServed(Call call) throws Exception {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        while (true) {
            HttpResponse<String> r = call.call();
            if ((r != null && r.statusCode() != 502 && r.statusCode() != 503) || System.nanoTime() > deadline) {
                return r;
            }
            Thread.sleep(100);
        }
    }

    private static void expectOk(HttpResponse<String> r, String what) {
        if (r == null || r.statusCode() / 100 != 2) {
            throw new IllegalStateException(what + ": " + (r == null ? "no answer" : r.statusCode() + " " + r.body()));
        }
    }

    private Instance anyInstance() {
        List<Instance> now = live;
        return now.get(ThreadLocalRandom.current().nextInt(now.size()));
    }

    private HttpResponse<String> post(Instance to, String path, Object body) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(to.url() + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))));
    }

    private HttpResponse<String> get(Instance to, String path) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(to.url() + path)).GET());
    }

    private HttpResponse<String> delete(Instance to, String path) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(to.url() + path)).DELETE());
    }

    /** The answer, or null when the instance did not answer (gone). */
    private HttpResponse<String> send(HttpRequest.Builder request) throws InterruptedException {
        try {
            return http.send(request.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return null;
        }
    }

    private float[][] rows(SplittableRandom rnd, int n) {
        float[][] r = new float[n][headDim];
        for (float[] row : r) {
            for (int i = 0; i < headDim; i++) {
                row[i] = (float) rnd.nextGaussian();
            }
        }
        return r;
    }

    private void print(Map<String, Object> report) {
        out.printf(Locale.ROOT, "KV sessions over instances through Kafka: %d sessions (%s, %d prefill tokens per head), %d client threads%n",
                sessions, report.get("shape"), tokens, clients);
        out.printf(Locale.ROOT, "%-10s %14s %12s %10s %10s %12s%n", "instances", "layer steps/s", "tokens/s", "p50 ms", "p99 ms", "settle s");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> phases = (List<Map<String, Object>>) report.get("phases");
        for (Map<String, Object> p : phases) {
            Object settle = p.containsKey("failover_seconds") ? p.get("failover_seconds") : p.getOrDefault("rebalance_seconds", "-");
            String name = p.containsKey("killed_instances") ? p.get("instances") + " (kill)" : p.get("instances").toString();
            out.printf(Locale.ROOT, "%-10s %14.0f %12.1f %10.2f %10.2f %12s%n", name, (double) p.get("layer_steps_per_s"), (double) p.get("tokens_per_s"),
                    (double) p.get("p50_ms"), (double) p.get("p99_ms"), settle instanceof Double d ? String.format(Locale.ROOT, "%.1f", d) : settle);
        }
        out.printf(Locale.ROOT, "failed calls %d (in though unanswered %d, sent again %d); verified: %s (%d answers compared, %d different, largest "
                        + "relative difference %.2g; %d heads of another length)%n", report.get("failed_calls"), report.get("landed_without_acknowledgement"),
                report.get("resent"), report.get("verified"), report.get("answers_compared"), report.get("answers_different"),
                (double) report.get("largest_relative_difference"), report.get("heads_with_other_lengths"));
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary folder: left behind
        }
    }
}
