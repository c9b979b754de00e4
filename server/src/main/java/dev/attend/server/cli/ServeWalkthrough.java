package dev.attend.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.search.Document;
import dev.attend.server.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The demo's last step: {@code attend serve} on embedded defaults (every module, a Kafka broker in the process, the
 * data directory given), loaded with what the earlier steps used (the attention head, the trained model and the
 * user's behaviours, the documents), and each job asked once through its own HTTP API, as a client would. Then it
 * keeps serving with its URLs printed (the web console among them) until Ctrl-C, or stops at once with {@code --once}.
 */
final class ServeWalkthrough {

    private final PrintStream out;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private String base;

    private ServeWalkthrough(PrintStream out) {
        this.out = out;
    }

    /** A stop signal the walkthrough triggers itself (with --once) or the JVM's shutdown does (Ctrl-C). */
    private static final class Stop implements StopSignal {
        private final CountDownLatch stopped = new CountDownLatch(1);
        private volatile Runnable action = () -> { };

        @Override
        public void onStop(Runnable stopAction) {
            action = stopAction;
        }

        void stop() {
            if (stopped.getCount() > 0) {
                action.run();
                stopped.countDown();
            }
        }

        @Override
        public void await() throws InterruptedException {
            stopped.await();
        }
    }

    static void run(PrintStream out, Path dataDir, Integer port, boolean once, DemoCommand.Workload head, RecommendationDemo.Trained trained,
                    SearchDemo.Corpus corpus) throws Exception {
        new ServeWalkthrough(out).walk(dataDir, port, once, head, trained, corpus);
    }

    private void walk(Path dataDir, Integer port, boolean once, DemoCommand.Workload head, RecommendationDemo.Trained trained,
                      SearchDemo.Corpus corpus) throws Exception {
        int p = port != null ? port : free(8080) ? 8080 : anyFreePort();
        base = "http://127.0.0.1:" + p;
        out.printf(Locale.ROOT, "== The same jobs through the HTTP API: attend serve on %s (data in %s; a Kafka broker in the process)%n", base,
                dataDir.toAbsolutePath());
        Path model = dataDir.resolve("recsys").resolve("model.bin");
        Files.createDirectories(model.getParent());
        ModelFiles.save(trained.model(), trained.catalog(), model); // what `attend recsys train` writes; the server loads it
        Stop stop = new Stop();
        int[] exit = {0};
        Thread server = new Thread(() -> exit[0] = new picocli.CommandLine(new ServeCommand(System.getenv(), stop))
                .execute("--port", Integer.toString(p), "--data-dir", dataDir.toString()), "attend-serve");
        server.start();
        Thread hook = new Thread(() -> {
            stop.stop();
            joinQuietly(server);
        });
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            awaitHealthy(server);
            kv(head);
            recommendations(trained);
            search(corpus);
            out.printf(Locale.ROOT, "  serving: web console %s/   API %s/openapi.json   health %s/health   metrics %s/metrics%n", base, base, base,
                    base);
        } catch (Exception e) {
            stop.stop();
            throw e;
        }
        if (once) {
            stop.stop();
            server.join();
            Runtime.getRuntime().removeShutdownHook(hook);
        } else {
            out.println("  (Ctrl-C stops it; `./attend demo --once` ends here instead)");
            out.flush();
            server.join();
        }
        if (exit[0] != 0) {
            throw new IllegalStateException("attend serve ended with status " + exit[0]);
        }
    }

    private void awaitHealthy(Thread server) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (System.nanoTime() < deadline) {
            if (!server.isAlive()) {
                throw new IllegalStateException("attend serve did not start (see above)");
            }
            try {
                if (get("/health").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("attend serve did not answer within 180 s");
    }

    /**
     * A KV session over the head's prefill (binary body) whose head policy is chosen from that prefill ({@code auto}),
     * then one decode query answered under it and checked against full attention.
     */
    private void kv(DemoCommand.Workload head) throws Exception {
        int n = Math.min(head.keys().size(), 8192);
        int d = head.keys().dim();
        int q = Math.min(head.prefillQueries().length, n);
        send("DELETE", "/v1/kv/sessions/demo", null, null); // a session left by an earlier run
        JsonNode created = ok(send("POST", "/v1/kv/sessions", "application/json",
                json(Map.of("id", "demo", "layers", 1, "kvHeads", 1, "headDim", d, "scale", head.scale(), "policy", "auto"))));
        // the binary prefill body: n keys, then n values, then q queries, little-endian float32
        ByteBuffer body = ByteBuffer.allocate((2 * n + q) * d * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer floats = body.asFloatBuffer();
        float[] row = new float[d];
        for (int i = 0; i < n; i++) {
            head.keys().readRow(i, row);
            floats.put(row);
        }
        for (int i = 0; i < n; i++) {
            head.values().readRow(i, row);
            floats.put(row);
        }
        for (int i = 0; i < q; i++) {
            floats.put(head.prefillQueries()[i]);
        }
        long t0 = System.nanoTime();
        JsonNode prefill = ok(send("POST", "/v1/kv/sessions/demo/prefill?layer=0&kvHead=0&from=0&tokens=" + n + "&queries=" + q,
                "application/octet-stream", body.array()));
        out.printf(Locale.ROOT, "  POST /v1/kv/sessions {id: demo, headDim: %d, policy: auto} -> %s; prefill of %,d keys, values and %,d queries (binary, "
                + "%.1f MB) in %.0f ms -> index %s%n", d, created.has("id") ? created.get("id").asText() : "created", n, q, body.capacity() / 1e6,
                (System.nanoTime() - t0) / 1e6, prefill.get("index").get("state").asText());
        // the policy is chosen and the index built in the background; until then a query scans every key
        long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
        String state = "";
        JsonNode described;
        while (!(state = (described = ok(get("/v1/kv/sessions/demo"))).findValue("index").findValue("state").asText()).equals("ready")
                && !state.startsWith("failed") && System.nanoTime() < deadline) {
            Thread.sleep(250);
        }
        JsonNode policy = described.get("heads").get(0).get("policy");
        String chosen = policy.path("policy").asText("undecided");
        out.printf(Locale.ROOT, "  GET /v1/kv/sessions/demo -> index %s after %.1f s; policy auto chose %s (prefill queries put %.1f%% of their "
                + "attention outside sinks + window, the top %d outside keys %.0f%% of that)%n", state, (System.nanoTime() - t0) / 1e9, chosen,
                100 * policy.path("measured").path("massOutsideMean").asDouble(), described.get("topK").asInt(),
                100 * policy.path("measured").path("topKShare").asDouble());
        float[] query = head.queries()[0];
        List<Double> qv = new ArrayList<>();
        for (float x : query) {
            qv.add((double) x);
        }
        JsonNode attend = ok(send("POST", "/v1/kv/sessions/demo/attend", "application/json",
                json(Map.of("layer", 0, "queries", List.of(Map.of("queryHead", 0, "query", qv))))));
        JsonNode stats = attend.get("results").get(0).get("stats");
        out.printf(Locale.ROOT, "  POST /v1/kv/sessions/demo/attend (a decode query) -> output of %d numbers, log-sum-exp %.3f; %s%n",
                attend.get("results").get(0).get("output").size(), attend.get("results").get(0).get("logSumExp").asDouble(), stats);
        if (chosen.equals("streaming")) { // it dropped what left its window: nothing to compare with
            out.println("  (a streaming head keeps no tokens beyond sinks + window: no accuracy check against full attention)");
            return;
        }
        JsonNode check = ok(send("POST", "/v1/kv/sessions/demo/accuracy", "application/json", json(Map.of("layer", 0)))).get("summary");
        // with a tail estimate the answer's log-sum-exp includes the estimated mass of the keys it did not read, so
        // the ratio to full attention's is the estimate's accuracy, and may pass 1
        String mass = chosen.endsWith("+tail") ? "attention mass with the tail's estimate" : "attention mass kept";
        out.printf(Locale.ROOT, "  POST /v1/kv/sessions/demo/accuracy (that answer against full attention) -> relative error %.4f, "
                + "%s %.4f (of full attention's), top-k recall %.3f%n", check.get("meanRelativeError").asDouble(), mass,
                check.get("meanMassKept").asDouble(), check.get("meanKeyRecall").asDouble());
    }

    /** The user's behaviours posted as events (through Kafka), then their recommendations and why the best one. */
    private void recommendations(RecommendationDemo.Trained trained) throws Exception {
        long user = trained.user();
        List<Map<String, Object>> events = new ArrayList<>();
        for (BehaviorEvent e : trained.behaviours()) {
            events.add(Map.of("user", e.user(), "item", e.item(), "category", e.category(), "action", e.action(), "time", e.time()));
        }
        ok(send("POST", "/v1/recsys/events", "application/json", json(Map.of("events", events))));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        long length = 0;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = get("/v1/recsys/users/" + user + "?limit=1");
            if (r.statusCode() == 200 && (length = Json.MAPPER.readTree(r.body()).get("length").asLong()) >= events.size()) {
                break;
            }
            Thread.sleep(50);
        }
        out.printf(Locale.ROOT, "  POST /v1/recsys/events: user %d's %,d behaviours -> Kafka -> the sequence store (GET /v1/recsys/users/%d: "
                + "length %d)%n", user, events.size(), user, length);
        JsonNode top = ok(send("POST", "/v1/recsys/recommend", "application/json", json(Map.of("user", user, "n", 5))));
        out.print("  POST /v1/recsys/recommend {n: 5} ->");
        for (JsonNode it : top.get("items")) {
            out.printf(Locale.ROOT, " %d (%.3f)", it.get("item").asLong(), it.get("probability").asDouble());
        }
        out.println();
        JsonNode best = top.get("items").get(0);
        JsonNode why = ok(send("POST", "/v1/recsys/explain", "application/json", json(Map.of("user", user, "item", best.get("item").asLong()))));
        out.printf(Locale.ROOT, "  POST /v1/recsys/explain {item: %d} -> %d behaviours kept, the heaviest:", best.get("item").asLong(),
                why.get("behaviors").size());
        for (int i = 0; i < Math.min(3, why.get("behaviors").size()); i++) {
            JsonNode b = why.get("behaviors").get(i);
            out.printf(Locale.ROOT, " #%d item %d (%.3f)", b.get("position").asInt(), b.get("item").asLong(), b.get("weight").asDouble());
        }
        out.println();
    }

    /** The documents posted (embedded by the server), then the query in three modes. */
    private void search(SearchDemo.Corpus corpus) throws Exception {
        long t0 = System.nanoTime();
        for (int from = 0; from < corpus.documents().size(); from += 100) {
            List<Map<String, Object>> docs = new ArrayList<>();
            for (Document d : corpus.documents().subList(from, Math.min(corpus.documents().size(), from + 100))) {
                docs.add(Map.of("id", d.id(), "title", d.title() == null ? "" : d.title(), "text", d.text() == null ? "" : d.text()));
            }
            ok(send("POST", "/v1/search/documents", "application/json", json(Map.of("documents", docs))));
        }
        out.printf(Locale.ROOT, "  POST /v1/search/documents: %d documents embedded and indexed by the server in %.1f s%n", corpus.documents().size(),
                (System.nanoTime() - t0) / 1e9);
        for (String mode : List.of("bm25", "dense", "rrf")) {
            JsonNode r = ok(send("POST", "/v1/search", "application/json", json(Map.of("query", corpus.query(), "mode", mode, "k", 3))));
            StringBuilder sb = new StringBuilder();
            for (JsonNode h : r.get("hits")) {
                sb.append(String.format(Locale.ROOT, "%n      %-5s %s", h.get("id").asText(), SearchDemo.clip(h.get("title").asText(), 60)));
            }
            out.printf(Locale.ROOT, "  POST /v1/search {mode: %s, k: 3}%s%n", mode, sb);
        }
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> send(String method, String path, String type, byte[] body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(300));
        if (type != null) {
            b.header("Content-Type", type);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode ok(HttpResponse<String> r) throws IOException {
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException(r.request().method() + " " + r.request().uri().getPath() + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body().isEmpty() ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(r.body());
    }

    private static byte[] json(Object o) throws IOException {
        return Json.MAPPER.writeValueAsBytes(o);
    }

    private static boolean free(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int anyFreePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
