package dev.attend.bench;

import dev.attend.gpu.SharedData;
import dev.attend.lm.ByteLm;
import dev.attend.lm.HttpAttention;
import dev.attend.lm.LayerAttention;
import dev.attend.lm.SessionAttention;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The language model's decode attention in process against over HTTP, in the same minutes: {@code bench lm-http}.
 * bytelm-gqa prefills a document once; an in-process {@link SessionAttention} and an {@link HttpAttention} session on a
 * running {@code attend serve} both take that prefill and get ready; then every decoded byte goes through both, the
 * order alternating byte by byte, so that the load of a shared machine falls on both alike. Reported per side: the
 * time of one layer's attention call (in process {@code KvSession.decodeLayer}; over HTTP one {@code decode-layer}
 * round trip) and of one byte (all layers and the model's own work), p50 and p90, and their ratio. Each side's
 * background work (index inserts after its appends) overlaps the other side's next byte: a comparison under the same
 * load, not the time of either alone on a quiet machine ({@code attend lm eval} gives that).
 */
@Command(name = "lm-http", sortOptions = false,
        description = "bytelm-gqa's decode attention in process vs over HTTP (a running attend serve), alternately: per call and per byte.",
        customSynopsis = {
            "bench lm-http --over-http URL [--model DIR] [--doc doc00] [--prefill 4096] [--decode 256]",
            "              [--policy retrieval] [--budget 0] [--json FILE]"})
public final class LmHttpBench extends BenchCommand {

    /** Calls and bytes below this are warm-up, left out of the figures. */
    private static final int WARMUP_BYTES = 16;

    @Option(names = "--over-http", paramLabel = "URL",
            description = "A running attend serve (e.g. started with --kv-durability process --kafka-bootstrap none).")
    String url;

    @Option(names = "--model", paramLabel = "DIR",
            description = "bytelm-gqa (default: ../shared/data/models/bytelm-gqa beside the checkout).")
    Path model = SharedData.resolve("models/bytelm-gqa").orElse(null);

    @Option(names = "--doc", paramLabel = "NAME", description = "The document (the model directory's docs/NAME.txt; default doc00).")
    String doc = "doc00";

    @Option(names = "--prefill", paramLabel = "N", description = "Bytes prefilled (default 4096).")
    int prefill = 4096;

    @Option(names = "--decode", paramLabel = "M", description = "Bytes decoded through both sides, teacher-forced (default 256).")
    int decode = 256;

    @Option(names = "--policy", paramLabel = "P", description = "Every KV head's policy (default retrieval).")
    String policy = "retrieval";

    @Option(names = "--budget", paramLabel = "B", description = "Distance computations per search (default 0: the policy's default).")
    int budget;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    LmHttpBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return new LmHttpBench(out, err).execute(args);
    }

    @Override
    public Integer call() {
        check(() -> {
            if (url == null || model == null || prefill < 1 || decode <= WARMUP_BYTES + 1 || budget < 0) {
                throw new IllegalArgumentException("need --over-http, a model (--model), --prefill >= 1, --decode > "
                        + (WARMUP_BYTES + 1) + " and --budget >= 0");
            }
        });
        try {
            Map<String, Object> report = measure(url, model, doc, prefill, decode, policy, budget, out, err);
            if (json != null) {
                Files.writeString(json, JsonWriter.write(report, 0));
            }
            return 0;
        } catch (Exception e) {
            err.println("bench lm-http: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    /** A side's attention, each call timed. */
    private static final class Timed implements LayerAttention {
        final String name;
        final LayerAttention inner;
        final long[] calls;
        final long[] bytes;
        int nCalls;
        int nBytes;

        Timed(String name, LayerAttention inner, int maxCalls, int maxBytes) {
            this.name = name;
            this.inner = inner;
            this.calls = new long[maxCalls];
            this.bytes = new long[maxBytes];
        }

        @Override
        public float[][] attend(int layer, int position, float[][] keys, float[][] values, float[][] queries) {
            long t0 = System.nanoTime();
            float[][] out = inner.attend(layer, position, keys, values, queries);
            calls[nCalls++] = System.nanoTime() - t0;
            return out;
        }
    }

    private static Map<String, Object> measure(String url, Path model, String doc, int prefill, int decode, String policy, int budget,
                                               PrintStream out, PrintStream err) throws Exception {
        ByteLm lm = ByteLm.load(model);
        byte[] text = Files.readAllBytes(model.resolve("docs").resolve(doc + ".txt"));
        if (text.length < prefill + decode) {
            throw new IllegalArgumentException(doc + " has " + text.length + " bytes, fewer than --prefill + --decode");
        }
        err.printf(Locale.ROOT, "[lm-http] %s, %d cores; prefill of %,d bytes...%n", MachineInfo.cpuModel(),
                Runtime.getRuntime().availableProcessors(), prefill);
        ByteLm.Prefill p = lm.prefill(text, prefill, false);
        int layers = lm.config().layers();
        int sinks = 128;
        int window = 512;
        int topK = 100;
        try (SessionAttention local = new SessionAttention(lm.config(), policy, topK, budget, sinks, window, 1);
             HttpAttention remote = new HttpAttention(url, lm.config(), policy, topK, budget, sinks, window)) {
            local.prefill(p);
            remote.prefill(p);
            local.awaitReady(600_000);
            remote.awaitReady(600_000);
            err.printf(Locale.ROOT, "[lm-http] both sessions ready; decoding %d bytes through each, alternately%n", decode);
            List<Timed> sides = List.of(new Timed("in process", local, layers * decode, decode),
                    new Timed("over HTTP", remote, layers * decode, decode));
            for (int t = prefill; t < prefill + decode; t++) {
                for (int i = 0; i < 2; i++) {
                    Timed side = sides.get((t + i) % 2);
                    long t0 = System.nanoTime();
                    lm.decode(text[t] & 0xff, t, side);
                    side.bytes[side.nBytes++] = System.nanoTime() - t0;
                }
            }
            Map<String, Object> report = new LinkedHashMap<>();
            report.put("model", model.getFileName().toString());
            report.put("doc", doc);
            report.put("prefill", prefill);
            report.put("decode", decode);
            report.put("policy", policy);
            report.put("cores", Runtime.getRuntime().availableProcessors());
            out.printf(Locale.ROOT, "%-11s %14s %14s %14s %14s%n", "", "call p50 ms", "call p90 ms", "byte p50 ms", "byte p90 ms");
            double[][] figures = new double[2][];
            for (int s = 0; s < 2; s++) {
                Timed side = sides.get(s);
                long[] c = Arrays.copyOfRange(side.calls, WARMUP_BYTES * layers, side.nCalls);
                long[] b = Arrays.copyOfRange(side.bytes, WARMUP_BYTES, side.nBytes);
                Arrays.sort(c);
                Arrays.sort(b);
                figures[s] = new double[] {c[c.length / 2] / 1e6, c[c.length * 9 / 10] / 1e6, b[b.length / 2] / 1e6, b[b.length * 9 / 10] / 1e6};
                out.printf(Locale.ROOT, "%-11s %14.3f %14.3f %14.2f %14.2f%n", side.name, figures[s][0], figures[s][1], figures[s][2], figures[s][3]);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("call_ms_p50", figures[s][0]);
                m.put("call_ms_p90", figures[s][1]);
                m.put("byte_ms_p50", figures[s][2]);
                m.put("byte_ms_p90", figures[s][3]);
                report.put(s == 0 ? "in_process" : "over_http", m);
            }
            double ratio = figures[1][2] / figures[0][2];
            out.printf(Locale.ROOT, "over HTTP / in process per byte (p50): %.2fx; per call: %.2fx%n", ratio, figures[1][0] / figures[0][0]);
            report.put("byte_ratio_p50", ratio);
            return report;
        }
    }
}
