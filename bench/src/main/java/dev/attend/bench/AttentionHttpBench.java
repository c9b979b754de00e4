package dev.attend.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.bench.workload.KvWorkload;
import dev.attend.bench.workload.OodParameters;
import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.VectorStore;
import dev.attend.retrieval.policy.AttentionAccuracy;
import dev.attend.retrieval.KvDurability;
import dev.attend.server.AttendServer;
import dev.attend.server.ServerConfig;
import dev.attend.server.kv.KvSessionRoutes;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One KV head served over HTTP: {@code bench attention-http}. An in-process server (the same
 * {@link AttendServer} and {@link KvSessionRoutes} as {@code attend serve}, durable sessions under a
 * temporary data directory) gets a synthetic OOD head of N tokens by binary prefill in chunks, builds its
 * attention-aware index, then serves decode steps from one client on loopback, one at a time: each step is
 * one {@code POST .../decode} (append the token's key and value, attend with its query) in float32 binary.
 * Reported: prefill throughput, build time, latency per step (client round trip and the server's own time
 * from its {@code Server-Timing} header: p50, p90, p99, max), the output error against full attention on
 * a sample of steps, and memory.
 */
@Command(name = "attention-http", sortOptions = false,
        description = "One KV head over HTTP at N = 10^6: decode-step latency (append + attend), prefill, build.",
        customSynopsis = {
            "bench attention-http [--synthetic N] [--head NAME] [--train M] [--steps S] [--warmup W] [--budget F]",
            "                     [--chunk T] [--check-every C] [--durability fsync|process] [--scorer auto]",
            "                     [--seed 1] [--json FILE]"})
public final class AttentionHttpBench extends BenchCommand {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--synthetic", paramLabel = "N", description = "Tokens of the generated OOD head (default 1000000; parameters "
            + "fitted to --head, default " + OodWorkloadGenerator.DEFAULT_HEAD + ").")
    int n = 1_000_000;

    @Option(names = "--head", paramLabel = "NAME", description = "The head whose fitted parameters generate the workload.")
    String head = OodWorkloadGenerator.DEFAULT_HEAD;

    @Option(names = "--train", paramLabel = "M", description = "Prefill queries that train the index (default 30000).")
    int train = 30_000;

    @Option(names = "--steps", paramLabel = "S", description = "Timed decode steps, after W untimed ones (defaults 2000 and 200).")
    int steps = 2000;

    @Option(names = "--warmup", paramLabel = "W", description = "Untimed decode steps before the timed ones (default 200).")
    int warmup = 200;

    @Option(names = "--budget", paramLabel = "F,...", description = "Keys scanned per step as fractions of N (default 0.01; the "
            + "request's budget is F N - 640, the static set's share), each measured over its own W + S steps.")
    String budgets;

    @Option(names = "--chunk", paramLabel = "T", description = "Tokens per prefill request (default 8192: 4 MiB of float32 at d = 64).")
    int chunk = 8192;

    @Option(names = "--check-every", paramLabel = "C", description = "Compare the answer with full attention every C steps (default 10).")
    int checkEvery = 10;

    @Option(names = "--durability", paramLabel = "fsync|process",
            description = "The server's KV durability (default fsync: every step's append is forced to disk).")
    String durability;

    @Option(names = "--scorer", paramLabel = "auto|simd|opencl|scalar", description = "The server's scorer (default auto).")
    String scorerName = "auto";

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the generated head (default 1).")
    long seed = 1;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    AttentionHttpBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return new AttentionHttpBench(out, err).execute(args);
    }

    @Override
    public Integer call() {
        double[] budgetFractions = checked(() -> budgets == null ? new double[] {0.01}
                : Arrays.stream(budgets.split(",")).mapToDouble(b -> Double.parseDouble(b.strip())).toArray());
        KvDurability kvDurability = checked(() -> durability == null ? KvDurability.FSYNC : KvDurability.of(durability));
        check(() -> {
            if (steps < 1 || warmup < 0 || train < 0 || chunk < 1 || checkEvery < 1 || budgetFractions.length == 0
                    || Arrays.stream(budgetFractions).anyMatch(b -> !(b > 0 && b <= 1))
                    || n < budgetFractions.length * (steps + warmup) + 1024) {
                throw new IllegalArgumentException("need --steps >= 1, --warmup, --train >= 0, --chunk, --check-every >= 1, "
                        + "every --budget in (0, 1] and --synthetic >= budgets x (steps + warmup) + 1024");
            }
        });
        try {
            Map<String, Object> report = measure(n, head, train, steps, warmup, budgetFractions, chunk, checkEvery, scorerName,
                    kvDurability, seed, out, err);
            if (json != null) {
                Files.writeString(json, JsonWriter.write(report, 0));
            }
            return 0;
        } catch (Exception e) {
            err.println("bench attention-http: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    private static Map<String, Object> measure(int n, String head, int train, int steps, int warmup, double[] budgetFractions,
                                               int chunk, int checkEvery, String scorerName, KvDurability durability,
                                               long seed, PrintStream out, PrintStream err) throws Exception {
        OodParameters p = OodWorkloadGenerator.defaults(head);
        int decode = budgetFractions.length * (warmup + steps);
        long t0 = System.nanoTime();
        KvWorkload w = OodWorkloadGenerator.generate(p, n, train, decode, seed);
        VectorStore values = DecodeWorkload.syntheticValues(n, p.dim(), seed);
        int d = p.dim();
        int prefill = n - decode;
        err.printf(Locale.ROOT, "[attention-http] %s, %d cores; generated %s in %.1f s%n", MachineInfo.cpuModel(),
                Runtime.getRuntime().availableProcessors(), w.name(), (System.nanoTime() - t0) / 1e9);
        Path dir = Files.createTempDirectory("attend-http-bench");
        Map<String, Object> report = new LinkedHashMap<>();
        try (Scorer scorer = Scorers.create(scorerName);
             KvSessionRoutes kv = new KvSessionRoutes(dir.resolve("kv"), scorer, Duration.ZERO, durability)) {
            AttendServer server = AttendServer.builder().routes(kv).build()
                    .start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")));
            try {
                HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                String base = server.url() + "/v1/kv/sessions";
                send(client, HttpRequest.newBuilder(URI.create(base)).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(String.format(Locale.ROOT,
                                "{\"id\":\"bench\",\"layers\":1,\"kvHeads\":1,\"headDim\":%d,\"scale\":%s}", d, Float.toString(w.scale()))))
                        .build(), 201);

                // Prefill in chunks, each with its share of the training queries; the build waits for the last.
                long start = System.nanoTime();
                long bytes = 0;
                int queriesSent = 0;
                for (int from = 0; from < prefill; from += chunk) {
                    int to = Math.min(prefill, from + chunk);
                    int qTo = (int) ((long) train * to / prefill);
                    ByteBuffer body = ByteBuffer.allocate(4 * d * (2 * (to - from) + qTo - queriesSent)).order(ByteOrder.LITTLE_ENDIAN);
                    float[] row = new float[d];
                    for (int i = from; i < to; i++) {
                        w.keys().readRow(i, row);
                        put(body, row);
                    }
                    for (int i = from; i < to; i++) {
                        values.readRow(i, row);
                        put(body, row);
                    }
                    for (int i = queriesSent; i < qTo; i++) {
                        w.trainingQueries().readRow(i, row);
                        put(body, row);
                    }
                    String url = String.format(Locale.ROOT, "%s/bench/prefill?layer=0&kvHead=0&from=%d&tokens=%d&queries=%d&more=%b",
                            base, from, to - from, qTo - queriesSent, to < prefill);
                    send(client, binary(url, body.array()), 200);
                    bytes += body.capacity();
                    queriesSent = qTo;
                }
                double prefillSeconds = (System.nanoTime() - start) / 1e9;
                err.printf(Locale.ROOT, "[attention-http] prefill of %,d tokens and %,d queries: %.1f s, %.0f MB/s%n", prefill,
                        train, prefillSeconds, bytes / prefillSeconds / 1e6);

                long buildStart = System.nanoTime();
                long lastReport = buildStart;
                JsonNode state;
                while (true) {
                    state = JSON.readTree(send(client, HttpRequest.newBuilder(URI.create(base + "/bench")).GET().build(), 200));
                    String s = state.path("heads").get(0).path("index").path("state").asText();
                    if (s.equals("ready")) {
                        break;
                    }
                    if (s.startsWith("failed")) {
                        throw new IllegalStateException("index build " + s);
                    }
                    if (System.nanoTime() - lastReport > 15_000_000_000L) {
                        JsonNode idx = state.path("heads").get(0).path("index");
                        err.printf(Locale.ROOT, "[attention-http] index %s %,d/%,d (%.0f s)%n", s, idx.path("built").asInt(),
                                idx.path("toBuild").asInt(), (System.nanoTime() - buildStart) / 1e9);
                        lastReport = System.nanoTime();
                    }
                    Thread.sleep(200);
                }
                double buildSeconds = (System.nanoTime() - buildStart) / 1e9;
                err.printf(Locale.ROOT, "[attention-http] index ready %.1f s after the last prefill%n", buildSeconds);

                report.put("bench", "attention-http");
                report.put("machine", MachineInfo.describe());
                report.put("workload", w.name());
                report.put("n", n);
                report.put("d", d);
                report.put("prefill_tokens", prefill);
                report.put("prefill_queries", train);
                report.put("prefill_seconds", prefillSeconds);
                report.put("prefill_MB_per_s", bytes / prefillSeconds / 1e6);
                report.put("build_seconds_after_prefill", buildSeconds);
                report.put("load", "one client on loopback, closed loop: one POST /decode (append + attend, float32 binary) at a "
                        + "time; per budget " + warmup + " untimed steps, then " + steps + " timed");
                report.put("durability", durability.wireName());
                out.printf(Locale.ROOT, "%s: N = %,d, durability %s, one client on loopback, %,d timed steps per budget%n", w.name(), n,
                        durability.wireName(), steps);
                out.printf(Locale.ROOT, "  %-9s %-30s %9s %9s %9s %9s%n", "scanned", "per decode step (append + attend)", "p50_us",
                        "p90_us", "p99_us", "max_us");
                List<Map<String, Object>> runs = new ArrayList<>();
                float[] key = new float[d];
                float[] value = new float[d];
                int t = 0; // decode steps so far
                for (double fraction : budgetFractions) {
                    int budget = (int) Math.max(1, Math.round(fraction * n) - (128 + 512));
                    long[] roundTrip = new long[steps];
                    long[] serverTime = new long[steps];
                    long[] attendTime = new long[steps];
                    List<Double> errors = new ArrayList<>();
                    long scanned = 0;
                    long decodeStart = 0;
                    for (int s = 0; s < warmup + steps; s++, t++) {
                        int pos = prefill + t;
                        if (s == warmup) {
                            decodeStart = System.nanoTime();
                        }
                        w.keys().readRow(pos, key);
                        values.readRow(pos, value);
                        float[] q = w.testQueries()[t];
                        ByteBuffer body = ByteBuffer.allocate(4 * 3 * d).order(ByteOrder.LITTLE_ENDIAN);
                        put(body, key);
                        put(body, value);
                        put(body, q);
                        String url = String.format(Locale.ROOT, "%s/bench/decode?layer=0&kvHead=0&position=%d&queryHeads=0&budget=%d",
                                base, pos, budget);
                        long s0 = System.nanoTime();
                        HttpResponse<String> r = client.send(binary(url, body.array()), HttpResponse.BodyHandlers.ofString());
                        long rtt = System.nanoTime() - s0;
                        if (r.statusCode() != 200) {
                            throw new IllegalStateException("decode step " + t + ": HTTP " + r.statusCode() + " " + r.body());
                        }
                        JsonNode result = JSON.readTree(r.body()).path("results").get(0);
                        if (s >= warmup) {
                            int i = s - warmup;
                            roundTrip[i] = rtt;
                            serverTime[i] = serverTiming(r);
                            attendTime[i] = result.path("stats").path("micros").asLong() * 1000;
                            scanned += result.path("stats").path("keysScanned").asLong();
                            if (i % checkEvery == 0) {
                                AttentionOutput exact = scorer.attend(q, w.keys(), values, IntStream.range(0, pos + 1).toArray(), w.scale());
                                float[] got = new float[d];
                                for (int c = 0; c < d; c++) {
                                    got[c] = (float) result.path("output").get(c).asDouble();
                                }
                                errors.add(AttentionAccuracy.relativeError(got, exact.output()));
                            }
                        }
                    }
                    double decodeSeconds = (System.nanoTime() - decodeStart) / 1e9;
                    double[] e = errors.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                    Map<String, Object> run = new LinkedHashMap<>();
                    run.put("budget_fraction", fraction);
                    run.put("budget", budget);
                    run.put("scanned_fraction", (double) scanned / steps / n);
                    run.put("steps_per_s", steps / decodeSeconds);
                    run.put("round_trip_us", percentiles(roundTrip));
                    run.put("server_us", percentiles(serverTime));
                    run.put("attend_us", percentiles(attendTime));
                    run.put("relative_error_median", e[e.length / 2]);
                    run.put("relative_error_checked_steps", e.length);
                    runs.add(run);
                    String scannedLabel = String.format(Locale.ROOT, "%.2f%%", 100.0 * scanned / steps / n);
                    printRow(out, scannedLabel, "client round trip", roundTrip);
                    printRow(out, scannedLabel, "server (Server-Timing)", serverTime);
                    printRow(out, scannedLabel, "attend alone (stats.micros)", attendTime);
                    out.printf(Locale.ROOT, "  %-9s median relative error vs full attention %.4f (%d steps checked), %.0f steps/s%n",
                            scannedLabel, e[e.length / 2], e.length, steps / decodeSeconds);
                }
                JsonNode finalState = JSON.readTree(send(client, HttpRequest.newBuilder(URI.create(base + "/bench")).GET().build(), 200));
                Runtime rt = Runtime.getRuntime();
                System.gc();
                report.put("runs", runs);
                report.put("session_memory_bytes", finalState.path("memoryBytes").asLong());
                report.put("jvm_heap_used_bytes", rt.totalMemory() - rt.freeMemory());
                out.printf(Locale.ROOT, "  prefill %.1f s (%.0f MB/s), index ready %.1f s later; session %.0f MiB%n", prefillSeconds,
                        bytes / prefillSeconds / 1e6, buildSeconds, finalState.path("memoryBytes").asLong() / 1048576.0);
            } finally {
                server.stop();
            }
        } finally {
            deleteTree(dir);
        }
        return report;
    }

    private static void put(ByteBuffer b, float[] row) {
        for (float x : row) {
            b.putFloat(x);
        }
    }

    private static HttpRequest binary(String url, byte[] body) {
        return HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    }

    private static String send(HttpClient client, HttpRequest request, int expected) throws IOException, InterruptedException {
        HttpResponse<String> r = client.send(request, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != expected) {
            throw new IllegalStateException(request.method() + " " + request.uri() + ": HTTP " + r.statusCode() + " " + r.body());
        }
        return r.body();
    }

    /** Nanoseconds from {@code Server-Timing: app;dur=MS}. */
    private static long serverTiming(HttpResponse<?> r) {
        String v = r.headers().firstValue("Server-Timing").orElseThrow(() -> new IllegalStateException("no Server-Timing header"));
        return (long) (Double.parseDouble(v.substring(v.indexOf("dur=") + 4)) * 1e6);
    }

    private static Map<String, Object> percentiles(long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("p50", s[s.length / 2] / 1000);
        m.put("p90", s[(int) Math.ceil(0.9 * s.length) - 1] / 1000);
        m.put("p99", s[(int) Math.ceil(0.99 * s.length) - 1] / 1000);
        m.put("max", s[s.length - 1] / 1000);
        return m;
    }

    private static void printRow(PrintStream out, String scanned, String label, long[] nanos) {
        Map<String, Object> p = percentiles(nanos);
        out.printf(Locale.ROOT, "  %-9s %-30s %9d %9d %9d %9d%n", scanned, label, p.get("p50"), p.get("p90"), p.get("p99"), p.get("max"));
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var walk = Files.walk(dir)) {
            for (Path path : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
