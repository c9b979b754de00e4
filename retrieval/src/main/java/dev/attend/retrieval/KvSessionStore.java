package dev.attend.retrieval;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.stream.Stream;

/**
 * Durable KV sessions under a directory: one folder per session with its configuration
 * ({@code session.properties}) and a write-ahead journal of every prefill and append
 * ({@code journal.log}, written before the write is acknowledged, and forced to disk as well with
 * {@link KvDurability#FSYNC}). Opening the store replays
 * each journal, so sessions come back after a restart or a crash with every acknowledged token; their
 * indexes are rebuilt in the background from the replayed keys and prefill queries.
 */
public final class KvSessionStore implements AutoCloseable {

    private static final String CONFIG = "session.properties";
    private static final String JOURNAL = "journal.log";

    private final Path root;
    private final Scorer scorer;
    private final Executor builds;
    private final Executor indexer;
    private final KvDurability durability;
    private final Map<String, KvSession> sessions = new ConcurrentHashMap<>();

    /**
     * Opens the store at {@code root} (created if absent) and restores every session found there; its sessions
     * build indexes on {@code builds} and insert decoded keys on {@code indexer} (see {@link KvSession}).
     */
    public KvSessionStore(Path root, Scorer scorer, Executor builds, Executor indexer, KvDurability durability) throws IOException {
        this.durability = Objects.requireNonNull(durability, "durability");
        this.indexer = Objects.requireNonNull(indexer, "indexer");
        this.root = Objects.requireNonNull(root, "root");
        this.scorer = Objects.requireNonNull(scorer, "scorer");
        this.builds = Objects.requireNonNull(builds, "builds");
        Files.createDirectories(root);
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(d -> Files.isRegularFile(d.resolve(CONFIG))).sorted().toList()) {
                KvSession s = new KvSession(dir.getFileName().toString(), readConfig(dir.resolve(CONFIG)), scorer, builds, indexer);
                // One build per head over everything replayed, not one at the first record and the rest inserted online.
                s.holdBuilds(true);
                s.attachJournal(KvJournal.open(dir.resolve(JOURNAL), new KvJournal.Replay() {
                    @Override
                    public void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries,
                                        int[] queryHeads) {
                        s.prefill(layer, kvHead, from, keys, values, queries, queryHeads, true);
                    }

                    @Override
                    public void append(int layer, int kvHead, int position, float[] key, float[] value) {
                        s.append(layer, kvHead, position, key, value);
                    }
                }, durability == KvDurability.FSYNC));
                s.holdBuilds(false);
                sessions.put(s.id(), s);
            }
        }
    }

    /** Creates a durable session; its configuration is on disk before this returns. */
    public synchronized KvSession create(String id, KvSessionConfig config) {
        config.checked(); // nothing written for a configuration that cannot open
        if (!id.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new IllegalArgumentException("session id must be 1 to 64 of [A-Za-z0-9._-], got '" + id + "'");
        }
        if (sessions.containsKey(id)) {
            throw new IllegalStateException("KV session '" + id + "' exists");
        }
        Path dir = root.resolve(id);
        try {
            Files.createDirectories(dir);
            writeConfig(dir.resolve(CONFIG), config);
            KvSession s = new KvSession(id, config, scorer, builds, indexer);
            s.attachJournal(KvJournal.open(dir.resolve(JOURNAL), null, durability == KvDurability.FSYNC));
            sessions.put(id, s);
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create KV session '" + id + "' under " + dir, e);
        }
    }

    /** The session, or null. */
    public KvSession get(String id) {
        return sessions.get(id);
    }

    public List<String> ids() {
        return new ArrayList<>(sessions.keySet());
    }

    public int size() {
        return sessions.size();
    }

    /** Closes the session and deletes its files; false when there is no such session. */
    public synchronized boolean delete(String id) {
        KvSession s = sessions.remove(id);
        if (s == null) {
            return false;
        }
        s.close();
        Path dir = root.resolve(id);
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("KV session '" + id + "' closed but its files under " + dir + " remain", e);
        }
        return true;
    }

    @Override
    public void close() {
        sessions.values().forEach(KvSession::close);
        sessions.clear();
    }

    private static void writeConfig(Path file, KvSessionConfig c) throws IOException {
        Properties p = new Properties();
        p.setProperty("layers", Integer.toString(c.layers()));
        p.setProperty("kvHeads", Integer.toString(c.kvHeads()));
        p.setProperty("queryHeadsPerKvHead", Integer.toString(c.queryHeadsPerKvHead()));
        p.setProperty("headDim", Integer.toString(c.headDim()));
        p.setProperty("sinkTokens", Integer.toString(c.sinkTokens()));
        p.setProperty("windowTokens", Integer.toString(c.windowTokens()));
        p.setProperty("topK", Integer.toString(c.topK()));
        p.setProperty("scale", Float.toString(c.scale()));
        AttentionAwareIndex.Params ip = c.indexParams();
        p.setProperty("index.maxDegree", Integer.toString(ip.maxDegree()));
        p.setProperty("index.queryNeighbors", Integer.toString(ip.queryNeighbors()));
        p.setProperty("index.pivotsPerQuery", Integer.toString(ip.pivotsPerQuery()));
        p.setProperty("index.buildBeam", Integer.toString(ip.buildBeam()));
        p.setProperty("index.entryPoints", Integer.toString(ip.entryPoints()));
        p.setProperty("storage", c.storage().name());
        p.setProperty("retriever", c.retriever().wireName());
        p.setProperty("indexPerQueryHead", Boolean.toString(c.indexPerQueryHead()));
        p.setProperty("policy", c.policies().defaultPolicy());
        c.policies().perHead().forEach((head, name) -> p.setProperty("policy." + head, name));
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp)) {
            p.store(w, "Attend KV session");
        }
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    private static KvSessionConfig readConfig(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        }
        try {
            return new KvSessionConfig(num(p, "layers"), num(p, "kvHeads"), num(p, "queryHeadsPerKvHead"), num(p, "headDim"),
                    num(p, "sinkTokens"), num(p, "windowTokens"), num(p, "topK"), Float.parseFloat(p.getProperty("scale")),
                    new AttentionAwareIndex.Params(num(p, "index.maxDegree"), num(p, "index.queryNeighbors"),
                            num(p, "index.pivotsPerQuery"), num(p, "index.buildBeam"), num(p, "index.entryPoints")),
                    Precision.valueOf(p.getProperty("storage")),
                    KvSessionConfig.Retriever.of(p.getProperty("retriever", KvSessionConfig.Retriever.ATTENTION_AWARE.wireName())),
                    Boolean.parseBoolean(p.getProperty("indexPerQueryHead", "false")), policies(p)).checked();
        } catch (RuntimeException e) {
            throw new IOException(file + " is not a valid KV session configuration: " + e.getMessage(), e);
        }
    }

    /** The head policies of a configuration file ({@code policy} and {@code policy.<layer>/<kvHead>}; retrieval when absent). */
    private static HeadPolicies policies(Properties p) {
        java.util.Map<String, String> perHead = new java.util.TreeMap<>();
        for (String key : p.stringPropertyNames()) {
            if (key.startsWith("policy.")) {
                perHead.put(key.substring("policy.".length()), p.getProperty(key));
            }
        }
        return new HeadPolicies(p.getProperty("policy", HeadPolicies.RETRIEVAL), perHead);
    }

    private static int num(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null) {
            throw new IllegalArgumentException("missing " + key);
        }
        return Integer.parseInt(v.strip());
    }
}
