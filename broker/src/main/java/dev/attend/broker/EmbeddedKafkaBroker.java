package dev.attend.broker;

import dev.attend.broker.internals.HangingTransactions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.internals.Exit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka broker (KRaft: broker and controller in one) inside this JVM, so that the engine needs no
 * cluster to stream events: its log lives under a directory of the data dir and survives restarts (the cluster id
 * is kept beside it). The ports are chosen free at the first start and kept for the next ones: the metadata log
 * remembers where the broker listened, and after a crash (no clean deregistration) the restarted broker's own
 * transaction coordinator addressed the old port until the new registration replaced it, long enough on a slow
 * machine for Kafka Streams' exactly-once start to time out. New ports are taken only when the kept ones are busy.
 * {@link #bootstrapServers()} says where it listens. Start-up is retried (a port taken between choosing and
 * binding, a slow machine).
 *
 * <p><b>A fatal broker error stops the broker, not the process.</b> Kafka ends its process on errors it cannot go
 * on from: a failed log directory (a full or damaged disk; here the one directory also holds the metadata log),
 * or a fault of its controller. It does that through {@code Exit.halt}/{@code Exit.exit}
 * ({@code org.apache.kafka.common.utils.internals.Exit}), which in this JVM would end the server with it. While an
 * embedded broker has been started here, those calls end no process: the reason is recorded
 * ({@link #failure()}), every embedded broker of this JVM is shut down (one per process in practice: Kafka's exit
 * hook is JVM-wide and does not say which broker called it), and the calling Kafka thread gets an exception (a
 * halt does not return). Clients of the broker then fail as they do with a broker that is gone
 * ({@link EventProducer#send} says so at once when told about the broker, see {@link EventStreaming#brokerFailure}).
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);

    private static final String CLUSTER_ID_FILE = "cluster.id";
    /** The broker's and the controller's ports of the last start, reused by the next one when they are free. */
    private static final String PORTS_FILE = "ports";
    /** While the broker runs, this file under its directory holds its bootstrap address, for tools run beside it. */
    public static final String BOOTSTRAP_FILE = "bootstrap";
    private static final int START_ATTEMPTS = 3;

    private final KafkaRaftServer server;
    private final String bootstrapServers;
    private final Path dir;
    /** How the transaction coordinator said open transactions end, from one look for hanging ones to the next. */
    private final Map<String, Boolean> transactionEnds = new ConcurrentHashMap<>();
    /** Why the broker stopped on its own (a fatal Kafka error), or null while it runs. */
    private final AtomicReference<String> failure = new AtomicReference<>();
    private final AtomicBoolean shutDown = new AtomicBoolean();
    private volatile Thread stopping;

    /** The embedded brokers of this JVM that are running (a fatal Kafka error stops them). */
    private static final Set<EmbeddedKafkaBroker> LIVE = ConcurrentHashMap.newKeySet();
    private static boolean exitHandled;

    private EmbeddedKafkaBroker(KafkaRaftServer server, String bootstrapServers, Path dir) {
        this.server = server;
        this.bootstrapServers = bootstrapServers;
        this.dir = dir;
    }

    /**
     * Turns Kafka's process exits into a stop of the embedded brokers (once per JVM, before the first broker starts):
     * see the class comment.
     */
    private static synchronized void handleKafkaExits() {
        if (exitHandled) {
            return;
        }
        exitHandled = true;
        Exit.setHaltProcedure((code, message) -> fatal("halt", code, message));
        Exit.setExitProcedure((code, message) -> fatal("exit", code, message));
    }

    private static void fatal(String call, int code, String message) {
        String reason = "Kafka called " + call + "(" + code + ")" + (message == null || message.isBlank() ? "" : ": " + message);
        if (LIVE.isEmpty()) {
            LOG.error("{} with no embedded broker running; the process goes on", reason);
        } else {
            LOG.error("The embedded Kafka broker stops on a fatal error ({}); the process goes on without it", reason);
        }
        for (EmbeddedKafkaBroker b : LIVE) {
            b.fail(reason);
        }
        throw new IllegalStateException("the embedded Kafka broker stopped: " + reason);
    }

    /** Records why the broker stopped and shuts it down on a thread of its own (not the Kafka thread that failed). */
    private void fail(String reason) {
        if (!failure.compareAndSet(null, reason + "; " + describeLogDir())) {
            return;
        }
        LIVE.remove(this);
        Thread t = new Thread(() -> {
            try {
                Files.deleteIfExists(dir.resolve(BOOTSTRAP_FILE));
            } catch (IOException | RuntimeException ignored) {
                // the directory may be what failed
            }
            stop();
        }, "attend-kafka-broker-failed");
        t.setDaemon(true);
        stopping = t;
        t.start();
    }

    private void stop() {
        if (shutDown.compareAndSet(false, true)) {
            if (failure.get() != null) {
                shutdownFailedBroker();
            }
            try {
                shutdown(server);
            } catch (RuntimeException e) {
                LOG.warn("The embedded Kafka broker's shutdown after its failure: {}", e.toString());
            }
        }
    }

    /**
     * The broker side of a failed broker, with a short timeout: a plain shutdown first asks its controller for a
     * controlled shutdown and waits up to 5 minutes for the answer, which never comes once the metadata log's thread
     * has died with the log directory. Through a private field of {@link KafkaRaftServer} (Kafka 4.4); where that
     * is not there, the plain shutdown runs alone.
     */
    private void shutdownFailedBroker() {
        try {
            Field f = KafkaRaftServer.class.getDeclaredField("broker");
            f.setAccessible(true);
            Object option = f.get(server); // a scala.Option
            if ((Boolean) option.getClass().getMethod("isDefined").invoke(option)) {
                ((kafka.server.KafkaBroker) option.getClass().getMethod("get").invoke(option)).shutdown(FAILED_SHUTDOWN);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("No short shutdown of the failed broker: {}", e.toString());
        }
    }

    /** What the log directory looks like now (for the failure's reason): missing, not a directory, full, unwritable. */
    private String describeLogDir() {
        Path log = dir.resolve("log");
        try {
            if (!Files.exists(log)) {
                return "its log directory " + log + " is missing";
            }
            if (!Files.isDirectory(log)) {
                return "its log directory " + log + " is not a directory";
            }
            long free = Files.getFileStore(log).getUsableSpace();
            Path probe = Files.createTempFile(log, "attend-probe", ".tmp");
            try {
                Files.write(probe, new byte[4096]);
            } finally {
                Files.deleteIfExists(probe);
            }
            return "its log directory " + log + " has " + free + " bytes free and takes writes now";
        } catch (IOException | RuntimeException e) {
            return "its log directory " + log + " fails: " + e;
        }
    }

    /** How long a failed broker's shutdown waits for its controller. */
    private static final Duration FAILED_SHUTDOWN = Duration.ofSeconds(5);

    /**
     * Why the broker stopped on its own (a fatal Kafka error: its log directory failed, say), or empty while it runs
     * (and after a plain {@link #close}). For health checks: writes that need Kafka fail from then on.
     */
    public Optional<String> failure() {
        return Optional.ofNullable(failure.get());
    }

    /** Starts a broker whose log is {@code dir} (created if missing; an existing log is reused). */
    public static EmbeddedKafkaBroker start(Path dir) throws IOException {
        Files.createDirectories(dir);
        handleKafkaExits();
        Path logDir = dir.resolve("log");
        String clusterId = clusterId(dir);
        RuntimeException last = null;
        int[] kept = keptPorts(dir);
        for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
            boolean reuse = attempt == 1 && kept != null && isFree(kept[0]) && isFree(kept[1]);
            int brokerPort = reuse ? kept[0] : freePort();
            int controllerPort = reuse ? kept[1] : freePort();
            Properties props = properties(logDir, brokerPort, controllerPort);
            format(dir, clusterId, props);
            KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
            try {
                server.startup();
                String bootstrap = "localhost:" + brokerPort;
                awaitReady(bootstrap);
                writeAtomically(dir, PORTS_FILE, brokerPort + " " + controllerPort);
                writeAtomically(dir, BOOTSTRAP_FILE, bootstrap);
                EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(server, bootstrap, dir);
                LIVE.add(broker);
                return broker;
            } catch (RuntimeException e) {
                last = e;
                shutdown(server);
            } catch (IOException e) {
                shutdown(server); // its address could not be written down: no use retrying on other ports
                throw e;
            }
        }
        throw new IllegalStateException("the embedded Kafka broker did not start in " + START_ATTEMPTS + " attempts (log " + logDir + ")",
                last);
    }

    /**
     * Ends the transactions that a crash of this process left open on the broker's partitions after their
     * coordinator recorded them aborted or committed without writing the markers ({@link HangingTransactions} says
     * how that happens and what it leaves alone), with the marker their coordinator meant; returns how many it
     * ended. Hanging transactions whose end is not recorded are logged as errors with what would close them. A look
     * that fails (the broker busy, say) is logged and counts 0.
     */
    public int repairHangingTransactions() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        // a look must not hold up the wait it runs in (and the API timeout may not be under the request timeout)
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10_000);
        try (Admin admin = Admin.create(p)) {
            Set<String> topics = admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get();
            HangingTransactions.Repair repair = HangingTransactions.repair(admin, topics, transactionEnds);
            for (HangingTransactions.Hanging h : repair.aborted()) {
                LOG.warn("Aborted a hanging transaction on {} (producer {} epoch {}, {}, open since offset {}; coordinator: {}): left open by a crash",
                        h.partition(), h.producerId(), h.producerEpoch(), h.transactionalId(), h.startOffset(), h.coordinatorState());
            }
            for (HangingTransactions.Hanging h : repair.committed()) {
                LOG.warn("Committed a hanging transaction on {} (producer {} epoch {}, {}, open since offset {}; coordinator: {}): its commit"
                                + " markers were lost in a crash",
                        h.partition(), h.producerId(), h.producerEpoch(), h.transactionalId(), h.startOffset(), h.coordinatorState());
            }
            for (HangingTransactions.Hanging h : repair.leftOpen()) {
                LOG.error("A transaction hangs on {} (producer {} epoch {}, {}, open since offset {}) and its coordinator's record ({})"
                                + " does not say how it ended, or its marker was refused: left as it is; readers of the partition wait at"
                                + " offset {} until it is ended by hand as its producer ended it (kafka-transactions.sh --bootstrap-server"
                                + " {} find-hanging; its abort command, or a commit marker)",
                        h.partition(), h.producerId(), h.producerEpoch(), h.transactionalId(), h.startOffset(), h.coordinatorState(),
                        h.startOffset(), bootstrapServers);
            }
            return repair.ended();
        } catch (ExecutionException | RuntimeException e) {
            // not fatal: the restore may end on its own, and the next look (while it waits) may get through
            LOG.warn("Could not look for hanging transactions on {}: {}", bootstrapServers,
                    String.valueOf(e instanceof ExecutionException ? e.getCause() : e));
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    /** Where clients connect: {@code localhost:port}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /**
     * The bootstrap address of the embedded broker running with its log under {@code dir}, as it wrote it (a file
     * left by a killed process names a broker that no longer answers); empty when none was started there.
     */
    public static Optional<String> runningAt(Path dir) throws IOException {
        Path file = dir.resolve(BOOTSTRAP_FILE);
        return Files.exists(file) ? Optional.of(Files.readString(file).trim()) : Optional.empty();
    }

    @Override
    public void close() {
        LIVE.remove(this);
        try {
            Files.deleteIfExists(dir.resolve(BOOTSTRAP_FILE));
        } catch (IOException ignored) {
            // a stale address only misleads a tool until the next start rewrites it
        }
        Thread t = stopping;
        if (t != null) {
            try {
                t.join(60_000); // the shutdown that the failure started
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        stop();
    }

    private static void shutdown(KafkaRaftServer server) {
        server.shutdown();
        server.awaitShutdown();
    }

    private static Properties properties(Path logDir, int brokerPort, int controllerPort) {
        Properties p = new Properties();
        p.putAll(Map.ofEntries(
                Map.entry("process.roles", "broker,controller"),
                Map.entry("node.id", "1"),
                Map.entry("controller.quorum.voters", "1@localhost:" + controllerPort),
                Map.entry("listeners", "PLAINTEXT://localhost:" + brokerPort + ",CONTROLLER://localhost:" + controllerPort),
                Map.entry("advertised.listeners", "PLAINTEXT://localhost:" + brokerPort),
                Map.entry("controller.listener.names", "CONTROLLER"),
                Map.entry("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
                Map.entry("inter.broker.listener.name", "PLAINTEXT"),
                Map.entry("log.dirs", logDir.toString()),
                Map.entry("num.partitions", "1"),
                // one broker: every internal topic with one replica
                Map.entry("offsets.topic.replication.factor", "1"),
                Map.entry("offsets.topic.num.partitions", "4"),
                Map.entry("transaction.state.log.replication.factor", "1"),
                Map.entry("transaction.state.log.min.isr", "1"),
                Map.entry("transaction.state.log.num.partitions", "4"),
                // Kafka's default, stated because the repair of hanging transactions relies on it (with transaction
                // version 2): a transactional write to a partition its transaction did not add is refused.
                Map.entry("transaction.partition.verification.enable", "true"),
                Map.entry("share.coordinator.state.topic.replication.factor", "1"),
                Map.entry("share.coordinator.state.topic.min.isr", "1"),
                Map.entry("group.initial.rebalance.delay.ms", "0"),
                // Recovery after a crash (kill -9): the restarted broker is registered again only when the dead
                // incarnation's session has expired (default 9 s), and it opens its ports only then. One node in
                // one process needs no margin. The expired-transaction check keeps its default (every 10 s): a
                // check that runs before the registration aborts the dead producers' transactions without their
                // markers (see repairHangingTransactions), and the producers that come back (Kafka Streams' threads)
                // abort theirs when they start anyway.
                Map.entry("broker.session.timeout.ms", "4000"),
                Map.entry("broker.heartbeat.interval.ms", "1000"),
                // Topics are created on purpose (EventTopics). No fsync per record, as Kafka: an acknowledged record
                // is in the log file, which a killed process (kill -9) does not lose; a power cut is what replicas
                // on other machines guard against (--kafka-bootstrap).
                Map.entry("auto.create.topics.enable", "false")));
        return p;
    }

    /** Formats the log directory once (a formatted one is left as it is). */
    private static void format(Path dir, String clusterId, Properties props) throws IOException {
        Path config = dir.resolve("server.properties");
        try (var out = Files.newBufferedWriter(config)) {
            props.store(out, "written by Attend before formatting the embedded broker's log");
        }
        ByteArrayOutputStream messages = new ByteArrayOutputStream();
        int code = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", config.toString(), "--ignore-formatted"},
                new PrintStream(messages, true, StandardCharsets.UTF_8));
        if (code != 0) {
            throw new IOException("formatting the embedded broker's log failed (" + code + "): " + messages.toString(StandardCharsets.UTF_8));
        }
    }

    private static String clusterId(Path dir) throws IOException {
        Path file = dir.resolve(CLUSTER_ID_FILE);
        if (Files.exists(file)) {
            return Files.readString(file).trim();
        }
        String id = Uuid.randomUuid().toString();
        Path tmp = dir.resolve(CLUSTER_ID_FILE + ".tmp");
        Files.writeString(tmp, id);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        return id;
    }

    /** The ports kept from the last start, or null when there are none (first start, unreadable file). */
    private static int[] keptPorts(Path dir) throws IOException {
        Path file = dir.resolve(PORTS_FILE);
        if (!Files.exists(file)) {
            return null;
        }
        String[] parts = Files.readString(file).trim().split("\\s+");
        try {
            return parts.length == 2 ? new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])} : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static boolean isFree(int port) {
        if (port <= 0 || port > 65_535) {
            return false;
        }
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("localhost", port));
            return true;
        } catch (IOException taken) {
            return false;
        }
    }

    private static void writeAtomically(Path dir, String name, String content) throws IOException {
        Path tmp = dir.resolve(name + ".tmp");
        Files.writeString(tmp, content);
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port", e);
        }
    }

    /** Waits until the broker answers a metadata request (it registers with its own controller after startup()). */
    private static void awaitReady(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(p)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (true) {
                try {
                    if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (Exception e) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the embedded broker at " + bootstrap + " did not answer in 60 s", e);
                    }
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the broker", e);
                }
            }
        }
    }
}
