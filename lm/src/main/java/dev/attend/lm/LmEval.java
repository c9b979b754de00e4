package dev.attend.lm;

import dev.attend.gpu.NpyReader;
import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
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
import java.util.Objects;
import java.util.concurrent.TimeoutException;

/**
 * The model-level measurement of retrieval attention, after the model's {@code reference.json}: each document's
 * first {@code prefill} bytes are prefilled with full attention (here, in Java), then the next {@code decode} bytes
 * are decoded one at a time, teacher-forced, every layer's attention served by an Attend {@link SessionAttention}
 * under each policy (and budget); bits per byte are counted over the decoded bytes (byte t predicted from position
 * t - 1, the first from the prefill's last position). Policies are {@code KvSession} head policy names ({@code full},
 * {@code streaming}, {@code retrieval}, {@code retrieval+tail}, {@code auto}, ...) or the in-Java reference rules
 * {@code exact:full}, {@code exact:streaming}, {@code exact:topk-K} ({@link ExactAttention}).
 */
public final class LmEval {

    private LmEval() {
    }

    /**
     * @param modelDir   the model (config.json, weights, reference.json)
     * @param docsDir    the documents ({@code null}: {@code modelDir/docs})
     * @param docs       file names in {@code docsDir} (empty: every {@code *.txt}, sorted)
     * @param prefill    bytes prefilled (30,720 in the reference)
     * @param decode     bytes decoded and scored after the prefill (2,048 in the reference; prefill + decode must fit a document)
     * @param policies   policy names (see the class comment)
     * @param budgets    distance computations per index search (0: {@link dev.attend.retrieval.KvSessionConfig#defaultBudget});
     *                   each policy that searches an index runs at each, the others once
     * @param topK       keys retrieved per query head
     * @param sinks      sink tokens
     * @param window     window tokens
     * @param buildThreads threads building the sessions' indexes
     * @param readyTimeoutSeconds how long to wait for a session's indexes
     * @param overHttp   the base URL of an {@code attend serve} whose KV sessions serve the decode ({@link HttpAttention}, decode
     *                   time then the client's wall time), or {@code null}: a {@link SessionAttention} in this process
     */
    public record Options(Path modelDir, Path docsDir, List<String> docs, int prefill, int decode, List<String> policies, List<Integer> budgets,
                          int topK, int sinks, int window, int buildThreads, long readyTimeoutSeconds, String overHttp) {

        /** In process (no {@code overHttp}). */
        public Options(Path modelDir, Path docsDir, List<String> docs, int prefill, int decode, List<String> policies, List<Integer> budgets,
                       int topK, int sinks, int window, int buildThreads, long readyTimeoutSeconds) {
            this(modelDir, docsDir, docs, prefill, decode, policies, budgets, topK, sinks, window, buildThreads, readyTimeoutSeconds, null);
        }

        public Options {
            Objects.requireNonNull(modelDir, "modelDir");
            docs = List.copyOf(docs == null ? List.of() : docs);
            policies = List.copyOf(policies == null || policies.isEmpty() ? List.of("full", "streaming", "retrieval") : policies);
            budgets = List.copyOf(budgets == null || budgets.isEmpty() ? List.of(0) : budgets);
            if (prefill < 1 || decode < 1) {
                throw new IllegalArgumentException("prefill and decode must be >= 1, got " + prefill + " and " + decode);
            }
            if (topK < 1 || sinks < 0 || window < 0 || buildThreads < 1 || readyTimeoutSeconds < 1) {
                throw new IllegalArgumentException("topK, buildThreads and readyTimeoutSeconds must be >= 1, sinks and window >= 0");
            }
            for (int b : budgets) {
                if (b < 0) {
                    throw new IllegalArgumentException("a budget must be >= 0 (0: the default), got " + b);
                }
            }
        }

        /** The reference protocol on every document: prefill 30,720, decode 2,048, full, streaming and retrieval at the default budget. */
        public static Options defaults(Path modelDir) {
            return new Options(modelDir, null, List.of(), 30_720, 2_048, List.of("full", "streaming", "retrieval"), List.of(0), 100, 128, 512,
                    Runtime.getRuntime().availableProcessors(), 3600);
        }

        public Options withDocs(List<String> d) {
            return new Options(modelDir, docsDir, d, prefill, decode, policies, budgets, topK, sinks, window, buildThreads, readyTimeoutSeconds, overHttp);
        }

        public Options withLengths(int p, int dec) {
            return new Options(modelDir, docsDir, docs, p, dec, policies, budgets, topK, sinks, window, buildThreads, readyTimeoutSeconds, overHttp);
        }

        public Options withPolicies(List<String> p) {
            return new Options(modelDir, docsDir, docs, prefill, decode, p, budgets, topK, sinks, window, buildThreads, readyTimeoutSeconds, overHttp);
        }

        public Options withBudgets(List<Integer> b) {
            return new Options(modelDir, docsDir, docs, prefill, decode, policies, b, topK, sinks, window, buildThreads, readyTimeoutSeconds, overHttp);
        }

        public Options withTopK(int k) {
            return new Options(modelDir, docsDir, docs, prefill, decode, policies, budgets, k, sinks, window, buildThreads, readyTimeoutSeconds, overHttp);
        }

        /** The same with the decode served over HTTP by the {@code attend serve} at {@code baseUrl} (null: in process). */
        public Options withOverHttp(String baseUrl) {
            return new Options(modelDir, docsDir, docs, prefill, decode, policies, budgets, topK, sinks, window, buildThreads, readyTimeoutSeconds,
                    baseUrl == null || baseUrl.isBlank() ? null : baseUrl);
        }

        /** The directory the documents are read from. */
        public Path documentsDir() {
            return docsDir != null ? docsDir : modelDir.resolve("docs");
        }
    }

    /**
     * One document under one policy and budget.
     *
     * @param budget              distance computations per index search (0: the default, which grows with the context)
     * @param bitsPerByte         over the decoded bytes
     * @param referenceBitsPerByte reference.json's value for this document under the matching rule (full, streaming; for the
     *                            other policies the exact top-k oracle topk-K of the same k; exact:R its rule R), or NaN
     * @param keysScannedPerAttend mean keys scanned (exact products and index distance computations) per query head and position
     * @param lmPrefillSeconds    the model's prefill (full attention in Java), shared by the document's policies
     * @param sessionPrefillSeconds handing the session the prefill's keys, values and queries
     * @param readySeconds        from the session's prefill to every index built (or policy opened)
     * @param decodeMsP50         decode time per byte (all layers), median
     * @param decodeMsP99         its 99th percentile
     * @param memoryBytes         what the session holds at the end ({@code KvSession.memoryBytes}); for exact rules the KV cache
     * @param policies            the policy each KV head followed (auto's choices), "layer/kvHead" -> name
     */
    public record Row(String doc, String policy, int budget, double bitsPerByte, double referenceBitsPerByte, double keysScannedPerAttend,
                      double lmPrefillSeconds, double sessionPrefillSeconds, double readySeconds, double decodeMsP50, double decodeMsP99,
                      long memoryBytes, Map<String, String> policies) {

        /** LM prefill + session prefill + every index ready: what a user waits before the first decoded byte. */
        public double prefillToReadySeconds() {
            return lmPrefillSeconds + sessionPrefillSeconds + readySeconds;
        }
    }

    /**
     * A policy and budget over the documents run: mean bits per byte, the share of the streaming-to-full gap recovered
     * ({@code (streaming - this) / (streaming - full)} on the means; streaming and full measured in this run when both are
     * in it, else reference.json's for the same documents; {@code gapSource} says which), and means of the rest.
     */
    public record Summary(String policy, int budget, int docs, double bitsPerByte, double referenceBitsPerByte, double recovered, String gapSource,
                          double keysScannedPerAttend, double prefillToReadySeconds, double decodeMsP50, double decodeMsP99, long memoryBytes) {
    }

    public record Result(Options options, List<Row> rows, List<Summary> summaries) {

        /** The result as JSON (rows and summaries). */
        public String toJson() {
            StringBuilder b = new StringBuilder("{\n  \"model\": ").append(q(options.modelDir().toString()))
                    .append(",\n  \"prefill\": ").append(options.prefill()).append(",\n  \"decode\": ").append(options.decode())
                    .append(",\n  \"top_k\": ").append(options.topK()).append(",\n  \"sinks\": ").append(options.sinks())
                    .append(",\n  \"window\": ").append(options.window()).append(",\n  \"rows\": [");
            for (int i = 0; i < rows.size(); i++) {
                Row r = rows.get(i);
                b.append(i == 0 ? "\n" : ",\n").append("    {\"doc\": ").append(q(r.doc())).append(", \"policy\": ").append(q(r.policy()))
                        .append(", \"budget\": ").append(r.budget()).append(", \"bits_per_byte\": ").append(n(r.bitsPerByte()))
                        .append(", \"reference_bits_per_byte\": ").append(n(r.referenceBitsPerByte()))
                        .append(", \"keys_scanned_per_attend\": ").append(n(r.keysScannedPerAttend()))
                        .append(", \"lm_prefill_s\": ").append(n(r.lmPrefillSeconds())).append(", \"session_prefill_s\": ").append(n(r.sessionPrefillSeconds()))
                        .append(", \"ready_s\": ").append(n(r.readySeconds())).append(", \"prefill_to_ready_s\": ").append(n(r.prefillToReadySeconds()))
                        .append(", \"decode_ms_p50\": ").append(n(r.decodeMsP50())).append(", \"decode_ms_p99\": ").append(n(r.decodeMsP99()))
                        .append(", \"memory_bytes\": ").append(r.memoryBytes()).append(", \"head_policies\": {");
                int j = 0;
                for (Map.Entry<String, String> e : r.policies().entrySet()) {
                    b.append(j++ == 0 ? "" : ", ").append(q(e.getKey())).append(": ").append(q(e.getValue()));
                }
                b.append("}}");
            }
            b.append("\n  ],\n  \"summaries\": [");
            for (int i = 0; i < summaries.size(); i++) {
                Summary s = summaries.get(i);
                b.append(i == 0 ? "\n" : ",\n").append("    {\"policy\": ").append(q(s.policy())).append(", \"budget\": ").append(s.budget())
                        .append(", \"docs\": ").append(s.docs()).append(", \"bits_per_byte\": ").append(n(s.bitsPerByte()))
                        .append(", \"reference_bits_per_byte\": ").append(n(s.referenceBitsPerByte()))
                        .append(", \"recovered\": ").append(n(s.recovered())).append(", \"gap_source\": ").append(q(s.gapSource()))
                        .append(", \"keys_scanned_per_attend\": ").append(n(s.keysScannedPerAttend()))
                        .append(", \"prefill_to_ready_s\": ").append(n(s.prefillToReadySeconds()))
                        .append(", \"decode_ms_p50\": ").append(n(s.decodeMsP50())).append(", \"decode_ms_p99\": ").append(n(s.decodeMsP99()))
                        .append(", \"memory_bytes\": ").append(s.memoryBytes()).append('}');
            }
            return b.append("\n  ]\n}\n").toString();
        }

        private static String q(String s) {
            return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        }

        private static String n(double d) {
            return Double.isFinite(d) ? String.format(Locale.ROOT, "%.6g", d) : "null";
        }
    }

    /** Runs the evaluation; progress and one line per row go to {@code progress}. */
    public static Result run(Options o, PrintStream progress) throws IOException, InterruptedException {
        ByteLm lm = ByteLm.load(o.modelDir());
        Reference ref = Reference.load(o.modelDir().resolve("reference.json"));
        List<String> docs = new ArrayList<>(o.docs());
        if (docs.isEmpty()) {
            try (var list = Files.list(o.documentsDir())) {
                list.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".txt")).sorted().forEach(docs::add);
            }
            if (docs.isEmpty()) {
                throw new IOException(o.documentsDir() + ": no documents (*.txt)");
            }
        }
        List<Row> rows = new ArrayList<>();
        for (String name : docs) {
            Path file = o.documentsDir().resolve(name);
            byte[] doc = Files.readAllBytes(file);
            if (doc.length < o.prefill() + o.decode()) {
                throw new IOException(file + " holds " + doc.length + " bytes, fewer than prefill + decode = " + (o.prefill() + o.decode()));
            }
            String id = name.endsWith(".txt") ? name.substring(0, name.length() - 4) : name;
            long t0 = System.nanoTime();
            ByteLm.Prefill p = lm.prefill(doc, o.prefill(), false);
            double lmPrefill = (System.nanoTime() - t0) / 1e9;
            progress.printf(Locale.ROOT, "[lm eval] %s: prefill of %,d bytes in %.1f s (attention %.1f s, the rest %.1f s)%n", id, o.prefill(), lmPrefill,
                    p.attentionSeconds(), lmPrefill - p.attentionSeconds());
            for (String policy : o.policies()) {
                boolean searches = !policy.startsWith("exact:") && !policy.equals("full") && !policy.equals("streaming");
                for (int budget : searches ? o.budgets() : List.of(0)) {
                    Row r = runOne(lm, p, doc, id, policy, budget, lmPrefill, o, ref);
                    rows.add(r);
                    progress.printf(Locale.ROOT, "[lm eval] %s %s%s: %.4f bits/byte (reference %s), %.0f keys/attend, prefill-to-ready %.1f s"
                                    + " (LM %.1f + session %.1f + ready %.1f), decode %.2f ms/byte p50, %.2f p99, %,d bytes held%n",
                            id, policy, budget > 0 ? " @" + budget : "", r.bitsPerByte(),
                            Double.isNaN(r.referenceBitsPerByte()) ? "-" : String.format(Locale.ROOT, "%.4f", r.referenceBitsPerByte()),
                            r.keysScannedPerAttend(), r.prefillToReadySeconds(), r.lmPrefillSeconds(), r.sessionPrefillSeconds(), r.readySeconds(),
                            r.decodeMsP50(), r.decodeMsP99(), r.memoryBytes());
                }
            }
        }
        List<Summary> summaries = summarise(rows, ref, new int[] {o.prefill(), o.decode()});
        for (Summary s : summaries) {
            progress.printf(Locale.ROOT, "[lm eval] %s%s over %d docs: %.4f bits/byte (reference %s), recovered %s (gap from %s), %.0f keys/attend,"
                            + " prefill-to-ready %.1f s, decode %.2f / %.2f ms/byte p50/p99%n",
                    s.policy(), s.budget() > 0 ? " @" + s.budget() : "", s.docs(), s.bitsPerByte(),
                    Double.isNaN(s.referenceBitsPerByte()) ? "-" : String.format(Locale.ROOT, "%.4f", s.referenceBitsPerByte()),
                    Double.isNaN(s.recovered()) ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * s.recovered()), s.gapSource(),
                    s.keysScannedPerAttend(), s.prefillToReadySeconds(), s.decodeMsP50(), s.decodeMsP99());
        }
        return new Result(o, List.copyOf(rows), summaries);
    }

    private static Row runOne(ByteLm lm, ByteLm.Prefill p, byte[] doc, String id, String policy, int budget, double lmPrefill, Options o,
                              Reference ref) throws InterruptedException {
        ByteLmConfig c = lm.config();
        int total = o.prefill() + o.decode();
        double sessionPrefill = 0;
        double ready = 0;
        LayerAttention attention;
        if (policy.startsWith("exact:")) {
            String rule = policy.substring("exact:".length());
            ExactAttention.Rule r = switch (rule) {
                case "full" -> ExactAttention.Rule.full();
                case "streaming" -> ExactAttention.Rule.streaming(o.sinks(), o.window());
                default -> {
                    if (!rule.startsWith("topk-")) {
                        throw new IllegalArgumentException("unknown exact rule '" + rule + "' (exact:full, exact:streaming, exact:topk-K)");
                    }
                    yield ExactAttention.Rule.topK(o.sinks(), o.window(), Integer.parseInt(rule.substring(5)));
                }
            };
            attention = new ExactAttention(c, p, r, total);
        } else if (o.overHttp() != null) {
            HttpAttention s = new HttpAttention(o.overHttp(), c, policy, o.topK(), budget, o.sinks(), o.window());
            long t0 = System.nanoTime();
            long t1;
            try {
                s.prefill(p);
                t1 = System.nanoTime();
                s.awaitReady(o.readyTimeoutSeconds() * 1000);
            } catch (TimeoutException | RuntimeException e) {
                s.close();
                throw new IllegalStateException(id + " " + policy + " over HTTP: " + e.getMessage(), e);
            }
            sessionPrefill = (t1 - t0) / 1e9;
            ready = (System.nanoTime() - t1) / 1e9;
            attention = s;
        } else {
            SessionAttention s = new SessionAttention(c, policy, o.topK(), budget, o.sinks(), o.window(), o.buildThreads());
            long t0 = System.nanoTime();
            s.prefill(p);
            long t1 = System.nanoTime();
            try {
                s.awaitReady(o.readyTimeoutSeconds() * 1000);
            } catch (TimeoutException e) {
                s.close();
                throw new IllegalStateException(id + " " + policy + ": " + e.getMessage(), e);
            }
            sessionPrefill = (t1 - t0) / 1e9;
            ready = (System.nanoTime() - t1) / 1e9;
            attention = s;
        }
        try (attention) {
            Decoded decoded = teacherForced(lm, p, doc, o.prefill(), o.decode(), attention);
            double p50 = decoded.msPerByte(0.5);
            double p99 = decoded.msPerByte(0.99);
            double keys;
            long memory;
            Map<String, String> policies;
            String refRule;
            if (attention instanceof SessionAttention s) {
                keys = s.meanKeysScanned();
                memory = s.memoryBytes();
                policies = s.policies();
                // full and streaming have their own reference; a policy that retrieves top-k keys is set against the exact top-k oracle
                refRule = policy.equals("full") || policy.equals("streaming") ? policy : "topk-" + o.topK();
            } else if (attention instanceof HttpAttention h) {
                keys = h.meanKeysScanned();
                memory = h.memoryBytes();
                policies = h.policies();
                refRule = policy.equals("full") || policy.equals("streaming") ? policy : "topk-" + o.topK();
            } else {
                ExactAttention e = (ExactAttention) attention;
                keys = e.meanKeysAttended();
                memory = 2L * c.layers() * c.kvHeads() * total * c.headDim() * Float.BYTES;
                policies = Map.of();
                refRule = e.rule().name();
            }
            double refBits = o.prefill() == ref.prefill() && o.decode() == ref.decode() && refRule != null ? ref.perDoc(id, refRule) : Double.NaN;
            return new Row(id, policy, budget, decoded.bitsPerByte(), refBits, keys, lmPrefill, sessionPrefill, ready, p50, p99, memory, policies);
        }
    }

    /**
     * A teacher-forced decode: bits per byte over the {@code decode} bytes after the first {@code prefill} (the first
     * predicted by the prefill's last logits), and each step's time sorted.
     */
    public record Decoded(double bitsPerByte, long[] sortedStepNanos) {

        /** The {@code q} quantile of the time per decoded byte, in ms (0 when only one byte was scored). */
        public double msPerByte(double q) {
            if (sortedStepNanos.length == 0) {
                return 0;
            }
            int i = q == 0.5 ? sortedStepNanos.length / 2 : (int) Math.ceil(q * sortedStepNanos.length) - 1;
            return sortedStepNanos[Math.max(0, Math.min(sortedStepNanos.length - 1, i))] / 1e6;
        }
    }

    /** Decodes {@code doc[prefill .. prefill + decode)} teacher-forced after {@code p}, every layer's attention from {@code attention}. */
    public static Decoded teacherForced(ByteLm lm, ByteLm.Prefill p, byte[] doc, int prefill, int decode, LayerAttention attention) {
        double bits = -ByteLm.log2Prob(p.lastLogits(), doc[prefill] & 0xff);
        long[] stepNanos = new long[decode - 1];
        for (int t = prefill; t < prefill + decode - 1; t++) {
            long s0 = System.nanoTime();
            float[] logits = lm.decode(doc[t] & 0xff, t, attention);
            stepNanos[t - prefill] = System.nanoTime() - s0;
            bits -= ByteLm.log2Prob(logits, doc[t + 1] & 0xff);
        }
        Arrays.sort(stepNanos);
        return new Decoded(bits / decode, stepNanos);
    }

    private static List<Summary> summarise(List<Row> rows, Reference ref, int[] protocol) {
        Map<String, List<Row>> groups = new LinkedHashMap<>();
        for (Row r : rows) {
            groups.computeIfAbsent(r.policy() + "\u0000" + r.budget(), k -> new ArrayList<>()).add(r);
        }
        List<String> docs = rows.stream().map(Row::doc).distinct().toList();
        double full = meanOver(rows, docs, "full", "exact:full");
        double streaming = meanOver(rows, docs, "streaming", "exact:streaming");
        String source = "this run";
        if (Double.isNaN(full) || Double.isNaN(streaming)) {
            boolean sameProtocol = rows.stream().allMatch(r -> !Double.isNaN(r.referenceBitsPerByte()) || !r.policy().equals("full"))
                    && ref.prefill() == protocol[0] && ref.decode() == protocol[1];
            full = sameProtocol ? ref.meanOver(docs, "full") : Double.NaN;
            streaming = sameProtocol ? ref.meanOver(docs, "streaming") : Double.NaN;
            source = sameProtocol ? "reference.json" : "none (run full and streaming, or the reference's prefill and decode)";
        }
        List<Summary> out = new ArrayList<>();
        for (List<Row> g : groups.values()) {
            Row first = g.getFirst();
            double bpb = g.stream().mapToDouble(Row::bitsPerByte).average().orElse(Double.NaN);
            double refBpb = g.stream().mapToDouble(Row::referenceBitsPerByte).average().orElse(Double.NaN);
            double recovered = (streaming - bpb) / (streaming - full);
            List<Double> p50 = g.stream().map(Row::decodeMsP50).sorted().toList();
            out.add(new Summary(first.policy(), first.budget(), g.size(), bpb, refBpb, recovered, source,
                    g.stream().mapToDouble(Row::keysScannedPerAttend).average().orElse(0),
                    g.stream().mapToDouble(Row::prefillToReadySeconds).average().orElse(0),
                    g.stream().mapToDouble(Row::decodeMsP50).average().orElse(0), g.stream().mapToDouble(Row::decodeMsP99).max().orElse(0),
                    (long) g.stream().mapToLong(Row::memoryBytes).average().orElse(0)));
        }
        return out;
    }

    /** The mean over {@code docs} of the rows of the first of {@code names} that has every document, or NaN. */
    private static double meanOver(List<Row> rows, List<String> docs, String... names) {
        for (String name : names) {
            List<Row> g = rows.stream().filter(r -> r.policy().equals(name)).toList();
            if (g.size() == docs.size()) {
                return g.stream().mapToDouble(Row::bitsPerByte).average().orElse(Double.NaN);
            }
        }
        return Double.NaN;
    }

    /** reference.json: per document ("docNN") and rule, bits per byte; its prefill and decode lengths. */
    record Reference(int prefill, int decode, Map<String, Map<String, Double>> perDoc) {

        static Reference load(Path file) throws IOException {
            if (!Files.isRegularFile(file)) {
                return new Reference(-1, -1, Map.of());
            }
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> root = (Map<String, Object>) JsonText.parse(Files.readString(file));
                Map<String, Map<String, Double>> per = new LinkedHashMap<>();
                for (Object d : (List<?>) root.get("per_doc")) {
                    Map<?, ?> m = (Map<?, ?>) d;
                    String id = String.valueOf(m.get("id"));
                    id = id.substring(id.lastIndexOf('/') + 1);
                    Map<String, Double> bpb = new LinkedHashMap<>();
                    for (Map.Entry<?, ?> e : ((Map<?, ?>) m.get("bpb")).entrySet()) {
                        bpb.put(String.valueOf(e.getKey()), ((Number) e.getValue()).doubleValue());
                    }
                    per.put(id, bpb);
                }
                return new Reference(((Number) root.get("prefill")).intValue(), ((Number) root.get("decode")).intValue(), per);
            } catch (RuntimeException e) {
                throw new IOException(file + " is not a reference of the expected shape: " + e.getMessage(), e);
            }
        }

        double perDoc(String doc, String rule) {
            Map<String, Double> m = perDoc.get(doc);
            Double v = m == null ? null : m.get(rule);
            return v == null ? Double.NaN : v;
        }

        double meanOver(List<String> docs, String rule) {
            return docs.stream().mapToDouble(d -> perDoc(d, rule)).average().orElse(Double.NaN);
        }
    }

    /**
     * The forward pass against the model's {@code check_logits.npy} over the whole of {@code docs/doc00.txt} (32,768 bytes:
     * slower than a unit test wants): the largest |logit difference| at positions 0-63 and at the last 64 positions.
     */
    public static double[] checkLogits(Path modelDir, PrintStream progress) throws IOException {
        ByteLm lm = ByteLm.load(modelDir);
        VectorStore check = NpyReader.read(modelDir.resolve("check_logits.npy"), Precision.FLOAT32);
        byte[] doc = Files.readAllBytes(modelDir.resolve("docs/doc00.txt"));
        ByteLm.Prefill p = lm.prefill(doc, doc.length, true);
        double[] worst = new double[2];
        for (int i = 0; i < check.size(); i++) {
            int t = i < 64 ? i : doc.length - check.size() + i;
            float[] want = check.row(i);
            for (int j = 0; j < want.length; j++) {
                worst[i < 64 ? 0 : 1] = Math.max(worst[i < 64 ? 0 : 1], Math.abs(p.logits()[t][j] - want[j]));
            }
        }
        progress.printf(Locale.ROOT, "[lm check] doc00 prefill of %,d bytes in %.1f s: max |logit - check| %.3e at positions 0-63, %.3e at %d-%d%n",
                doc.length, p.seconds(), worst[0], worst[1], doc.length - 64, doc.length - 1);
        return worst;
    }

    /** {@code LmEval MODEL_DIR [DOC...]}: the reference protocol (policies from -Dpolicies=..., budgets from -Dbudgets=...). */
    public static void main(String[] args) throws Exception {
        if (Boolean.getBoolean("check")) {
            checkLogits(Path.of(args[0]), System.out);
            return;
        }
        Options o = Options.defaults(Path.of(args[0])).withDocs(List.of(Arrays.copyOfRange(args, 1, args.length)));
        String pol = System.getProperty("policies");
        if (pol != null) {
            o = o.withPolicies(List.of(pol.split(",")));
        }
        String b = System.getProperty("budgets");
        if (b != null) {
            o = o.withBudgets(Arrays.stream(b.split(",")).map(String::strip).map(Integer::valueOf).toList());
        }
        if (System.getProperty("prefill") != null) {
            o = o.withLengths(Integer.getInteger("prefill"), Integer.getInteger("decode", 2048));
        }
        o = o.withOverHttp(System.getProperty("overHttp"));
        Result r = run(o, System.out);
        String json = System.getProperty("json");
        if (json != null) {
            Files.writeString(Path.of(json), r.toJson());
        }
    }
}
