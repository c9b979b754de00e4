package dev.attend.bench;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.retrieval.KvDurability;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.KvSessionLimits;
import dev.attend.server.AttendServer;
import dev.attend.server.ServerConfig;
import dev.attend.server.kv.KvSessionRoutes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The {@code attend serve} of {@code bench model --over-http}, in this JVM: {@link AttendServer} with the
 * {@link KvSessionRoutes} that {@code attend serve} mounts, on a loopback port, without a bearer token, its data
 * directory a fresh folder (under {@code --data-dir}, by default the system's temporary directory) deleted on close.
 * Its sessions are durable as the server's always are: every prefill and every decoded token is journaled (in float32)
 * under {@code <folder>/kv/<id>/} before it is acknowledged, forced to disk with {@link KvDurability#FSYNC} or handed to
 * the operating system with {@link KvDurability#PROCESS}; the server has no session that is not journaled. No token or
 * byte limits ({@link KvSessionLimits#shapeOnly()}, as the in-process session has none); index builds on the bench's
 * build threads.
 */
final class ModelServer implements AutoCloseable {

    /** Bytes a journal record takes beside its numbers (its header, type, position fields and checksums), rounded up. */
    private static final int RECORD_OVERHEAD = 64;

    private final Path dir;
    private final KvDurability durability;
    private final KvSessionRoutes kv;
    private final AttendServer server;

    ModelServer(Path parent, Scorer scorer, KvDurability durability, int buildThreads) throws IOException {
        Files.createDirectories(parent);
        this.dir = Files.createTempDirectory(parent, "attend-model-");
        this.durability = durability;
        try {
            this.kv = new KvSessionRoutes(dir.resolve("kv"), scorer, Duration.ZERO, durability, KvSessionLimits.shapeOnly(), buildThreads);
        } catch (IOException | RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
        try {
            this.server = AttendServer.builder().routes(kv).build().start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")));
        } catch (RuntimeException e) {
            kv.close();
            deleteTree(dir);
            throw e;
        }
    }

    String url() {
        return server.url();
    }

    /** The server's data folder (the journals are under its {@code kv}). */
    Path dir() {
        return dir;
    }

    KvDurability durability() {
        return durability;
    }

    /** The largest request body the server takes. */
    long maxBodyBytes() {
        return server.config().maxBodyBytes();
    }

    /** Creates session {@code id} of {@code config} over HTTP. */
    HttpModelKv create(String id, KvSessionConfig config) {
        return new HttpModelKv(server.url(), id, config);
    }

    /** Bytes of the sessions' folders (journals and configurations). */
    long journalBytes() {
        try (Stream<Path> files = Files.walk(dir.resolve("kv"))) {
            return files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0; // deleted meanwhile
                }
            }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Bytes the journals of {@code sessions} sessions of {@code shape} reach, prefilled in chunks of {@code chunk} tokens
     * and decoded every step: every key, value and prefill query in float32 (a query's head an int beside it), a record
     * per prefill chunk and per decoded layer.
     */
    static long journalEstimate(ModelWorkload.Shape shape, int chunk, int sessions) {
        long d = shape.headDim();
        long queries = (long) shape.trainPerQueryHead() * shape.group();
        long chunks = (shape.tokens() + chunk - 1) / chunk;
        long head = 4 * d * (2L * shape.tokens() + queries) + 4 * queries + chunks * RECORD_OVERHEAD;
        long step = RECORD_OVERHEAD + 4 * d * 2 * shape.kvHeads();
        return sessions * ((long) shape.layers() * shape.kvHeads() * head + (long) shape.layers() * shape.steps() * step);
    }

    /** Refuses (IllegalArgumentException) a journal of {@code bytes} where {@code parent}'s disk has less room. */
    static void checkSpace(Path parent, long bytes) {
        Path existing = parent.toAbsolutePath();
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        long free;
        try {
            free = Files.getFileStore(existing).getUsableSpace();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot tell the free space of " + parent + ": " + e.getMessage(), e);
        }
        if (free < bytes) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "--over-http: the server's journal would take about %.1f GiB "
                    + "(every key, value and prefill query in float32, every decoded token), and %s has %.1f GiB free: give --data-dir "
                    + "on a larger disk, or fewer --tokens or --sessions", bytes / 1073741824.0, existing, free / 1073741824.0));
        }
    }

    /**
     * Tokens per prefill call that keep a call's body (keys, values, its share of the prefill queries and their query
     * heads, in the wire's precision) within {@code maxBodyBytes}: {@code requested}, or fewer.
     */
    static int chunkTokens(ModelWorkload.Shape shape, int requested, long maxBodyBytes) {
        int width = shape.storage() == Precision.FLOAT16 ? 2 : 4;
        long row = (long) shape.headDim() * width;
        double queriesPerToken = (double) shape.trainPerQueryHead() * shape.group() / shape.tokens();
        // A chunk holds up to queriesPerToken x T + group queries (each query head's share rounds up).
        long room = maxBodyBytes - (long) shape.group() * (row + 4);
        long most = (long) Math.floor(room / (2 * row + queriesPerToken * (row + 4)));
        if (most < 1) {
            throw new IllegalArgumentException("one token and its queries do not fit in the server's body limit of " + maxBodyBytes + " bytes");
        }
        return (int) Math.min(requested, most);
    }

    /** Stops the server, closes its sessions and deletes its folder. */
    @Override
    public void close() {
        try {
            server.stop();
            kv.close();
        } finally {
            deleteTree(dir);
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("deleting the server's folder " + root, e);
        }
    }
}
