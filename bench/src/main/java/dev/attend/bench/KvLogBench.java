package dev.attend.bench;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.SimdScorer;
import dev.attend.retrieval.KvRecords;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.internals.KvJournal;
import dev.attend.streaming.KvTopicLog;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A KV session's writes through a Kafka topic ({@link KvTopicLog}, issue 25) against its local journal, in the same run:
 * a prefill in chunks, then decode steps of one record per layer (every KV head's token), each write waited for as a
 * session waits before it acknowledges; then the session rebuilt from each. The broker is the in-process one (one
 * node: acknowledged when in its page cache, not forced to disk, as Kafka relies on replicas), so the journal is shown
 * both ways: written to the page cache ({@code process}) and forced ({@code fsync}).
 */
@Command(name = "kv-log", sortOptions = false,
        description = "KV writes through a Kafka topic against the local journal: prefill MB/s, per-layer append latency, rebuild time.",
        customSynopsis = "bench kv-log [--layers L] [--kv-heads H] [--head-dim D] [--tokens T] [--chunk C] [--steps S] [--json FILE]")
final class KvLogBench extends BenchCommand {

    @Option(names = "--layers", paramLabel = "L", description = "Layers (default 4).")
    int layers = 4;

    @Option(names = "--kv-heads", paramLabel = "H", description = "KV heads per layer (default 8).")
    int kvHeads = 8;

    @Option(names = "--head-dim", paramLabel = "D", description = "Head dimension (default 128).")
    int headDim = 128;

    @Option(names = "--tokens", paramLabel = "T", description = "Prefill tokens (default 16384).")
    int tokens = 16_384;

    @Option(names = "--chunk", paramLabel = "C", description = "Tokens per prefill write (default 4096).")
    int chunk = 4096;

    @Option(names = "--steps", paramLabel = "S", description = "Decode steps, one write per layer each (default 200).")
    int steps = 200;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    KvLogBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() {
        check(() -> {
            if (layers < 1 || kvHeads < 1 || headDim < 1 || tokens < 1 || chunk < 1 || steps < 1) {
                throw new IllegalArgumentException("every count must be >= 1");
            }
            if ((long) layers * kvHeads * tokens * headDim > 1L << 31) {
                throw new IllegalArgumentException("layers x kv-heads x tokens x head-dim over 2^31 floats: a smaller shape");
            }
        });
        try {
            Map<String, Object> report = measure();
            if (json != null) {
                Files.writeString(json, JsonWriter.write(report, 1) + "\n");
            }
            return 0;
        } catch (Exception e) {
            err.println("bench kv-log: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    /** The writes of one session, in order, each one record: {@link #prefillWrites} prefill chunks, then the decode steps'. */
    private List<byte[]> records() {
        SplittableRandom rnd = new SplittableRandom(25);
        List<byte[]> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                for (int from = 0; from < tokens; from += chunk) {
                    int n = Math.min(chunk, tokens - from);
                    out.add(KvRecords.prefill(l, h, from, rows(rnd, n), rows(rnd, n), rows(rnd, n / 4), null));
                }
            }
        }
        for (int s = 0; s < steps; s++) {
            for (int l = 0; l < layers; l++) {
                out.add(KvRecords.appendLayer(l, tokens + s, rows(rnd, kvHeads), rows(rnd, kvHeads)));
            }
        }
        return out;
    }

    private int prefillWrites() {
        return layers * kvHeads * ((tokens + chunk - 1) / chunk);
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

    /** One log's write of a record. */
    private interface Write {
        void write(byte[] record) throws IOException;
    }

    private record Timed(double prefillSeconds, long[] appendNanos) {
    }

    /** Writes every record through {@code write}: the prefill's time, and each decode write's. */
    private static Timed time(List<byte[]> records, int prefillCount, Write write) throws IOException {
        long t0 = System.nanoTime();
        for (int i = 0; i < prefillCount; i++) {
            write.write(records.get(i));
        }
        double prefill = (System.nanoTime() - t0) / 1e9;
        long[] appends = new long[records.size() - prefillCount];
        for (int i = prefillCount; i < records.size(); i++) {
            long t = System.nanoTime();
            write.write(records.get(i));
            appends[i - prefillCount] = System.nanoTime() - t;
        }
        return new Timed(prefill, appends);
    }

    private Map<String, Object> measure() throws Exception {
        List<byte[]> records = records();
        int prefillCount = prefillWrites();
        long prefillBytes = 0;
        for (int i = 0; i < prefillCount; i++) {
            prefillBytes += records.get(i).length;
        }
        KvSessionConfig config = KvSessionConfig.defaults(layers, kvHeads, 1, headDim);
        err.printf(Locale.ROOT, "[kv-log] %d layers x %d KV heads, d = %d, %,d prefill tokens in %,d writes (%.1f MB), %d decode steps"
                + " of %d layer writes%n", layers, kvHeads, headDim, tokens, prefillCount, prefillBytes / 1e6, steps, layers);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("bench", "kv-log");
        report.put("machine", MachineInfo.describe());
        report.put("layers", layers);
        report.put("kv_heads", kvHeads);
        report.put("head_dim", headDim);
        report.put("tokens", tokens);
        report.put("chunk_tokens", chunk);
        report.put("steps", steps);
        report.put("prefill_bytes", prefillBytes);
        List<Map<String, Object>> rows = new ArrayList<>();
        Path dir = Files.createTempDirectory("attend-bench-kv-log");
        Executor noBuilds = task -> { }; // rebuilds time the records' replay, not the index builds they would start
        try (Scorer scorer = new SimdScorer(1)) {
            for (boolean force : new boolean[] {false, true}) {
                Path file = dir.resolve(force ? "journal-fsync.log" : "journal-process.log");
                Timed t;
                try (KvJournal j = KvJournal.create(file, force)) {
                    t = time(records, prefillCount, j::writeRecord);
                }
                long r0 = System.nanoTime();
                try (KvSession s = new KvSession("local", config, scorer, noBuilds, noBuilds)) {
                    KvJournal.replay(file, KvRecords.into(s));
                }
                rows.add(row(force ? "journal, fsync" : "journal, process", t, prefillBytes, (System.nanoTime() - r0) / 1e9));
                err.printf(Locale.ROOT, "[kv-log] %s done%n", force ? "journal fsync" : "journal process");
            }
            try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
                Properties p = new Properties();
                p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
                try (Admin admin = Admin.create(p)) {
                    admin.createTopics(List.of(new NewTopic("attend.kv", 4, (short) 1))).all().get();
                }
                Timed t;
                try (KvTopicLog log = new KvTopicLog(broker.bootstrapServers(), "attend.kv", KvTopicLog.DEFAULT_CHUNK_BYTES, Map.of())) {
                    log.create("bench", config);
                    t = time(records, prefillCount, record -> log.write("bench", record));
                }
                long r0 = System.nanoTime();
                KvTopicLog.Restored restored = KvTopicLog.restoreAll(broker.bootstrapServers(), "attend.kv", List.of(0, 1, 2, 3),
                        (id, c, at) -> new KvSession(id, c, scorer, noBuilds, noBuilds), Map.of());
                double rebuild = (System.nanoTime() - r0) / 1e9;
                restored.sessions().values().forEach(KvSession::close);
                if (restored.records() != records.size()) {
                    throw new IllegalStateException("the topic gave back " + restored.records() + " writes of " + records.size());
                }
                rows.add(row("kafka topic (in-process broker)", t, prefillBytes, rebuild));
                // The same decode steps with a token's layers sent together and waited for once (a new session).
                long[] tokenNanos = new long[steps];
                try (KvTopicLog log = new KvTopicLog(broker.bootstrapServers(), "attend.kv", KvTopicLog.DEFAULT_CHUNK_BYTES, Map.of())) {
                    log.create("bench-pipelined", config);
                    for (int s = 0; s < steps; s++) {
                        long t0 = System.nanoTime();
                        KvTopicLog.Sent last = null;
                        for (int l = 0; l < layers; l++) {
                            last = log.send("bench-pipelined", records.get(prefillCount + s * layers + l));
                        }
                        last.await();
                        tokenNanos[s] = System.nanoTime() - t0;
                    }
                }
                long[] sequential = new long[steps];
                for (int s = 0; s < steps; s++) {
                    for (int l = 0; l < layers; l++) {
                        sequential[s] += t.appendNanos()[s * layers + l];
                    }
                }
                report.put("token_sequential_p50_us", median(sequential) / 1e3);
                report.put("token_pipelined_p50_us", median(tokenNanos) / 1e3);
            }
        } finally {
            deleteTree(dir);
        }
        report.put("rows", rows);
        Runtime rt = Runtime.getRuntime();
        report.put("heap_used_bytes", rt.totalMemory() - rt.freeMemory()); // the records held for every log: about their bytes
        out.printf(Locale.ROOT, "%-34s %12s %14s %14s %12s%n", "log", "prefill MB/s", "append p50 us", "append p99 us", "rebuild s");
        for (Map<String, Object> r : rows) {
            out.printf(Locale.ROOT, "%-34s %12.1f %14.1f %14.1f %12.2f%n", r.get("log"), r.get("prefill_mb_per_s"), r.get("append_p50_us"),
                    r.get("append_p99_us"), r.get("rebuild_seconds"));
        }
        double base = (double) rows.getFirst().get("append_p50_us");
        out.printf(Locale.ROOT, "a token's %d layer writes through the topic: %.1f us waited one by one, %.1f us sent together and waited once%n",
                layers, (double) report.get("token_sequential_p50_us"), (double) report.get("token_pipelined_p50_us"));
        out.printf(Locale.ROOT, "per-layer append through the topic: %.1fx the journal's (process); %d layer writes per decoded token;"
                + " heap %.0f MB (the records, %.0f MB, held for every log)%n", (double) rows.getLast().get("append_p50_us") / base, layers,
                (rt.totalMemory() - rt.freeMemory()) / 1e6, totalBytes(records) / 1e6);
        return report;
    }

    private static Map<String, Object> row(String log, Timed t, long prefillBytes, double rebuildSeconds) {
        long[] a = t.appendNanos().clone();
        Arrays.sort(a);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("log", log);
        m.put("prefill_seconds", t.prefillSeconds());
        m.put("prefill_mb_per_s", prefillBytes / 1e6 / t.prefillSeconds());
        m.put("append_p50_us", a[a.length / 2] / 1e3);
        m.put("append_p99_us", a[(int) Math.ceil(0.99 * a.length) - 1] / 1e3);
        m.put("rebuild_seconds", rebuildSeconds);
        return m;
    }

    private static long median(long[] nanos) {
        long[] a = nanos.clone();
        Arrays.sort(a);
        return a[a.length / 2];
    }

    private static long totalBytes(List<byte[]> records) {
        long n = 0;
        for (byte[] r : records) {
            n += r.length;
        }
        return n;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted((x, y) -> y.getNameCount() - x.getNameCount()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
