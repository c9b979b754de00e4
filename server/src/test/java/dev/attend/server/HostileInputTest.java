package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.index.store.Tmpfs;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.SequenceModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hostile-input run (issue 20): what a hostile client does to a server on embedded defaults without a token: ids
 * that are paths, a duplicate key that smuggles one, lenient JSON, bodies nested a thousand deep or {@code null},
 * slow and vanishing senders, cross-site writes. Each gets a 4xx in the error shape, the data directory and what
 * the server held stay as they were, and the server keeps answering.
 */
class HostileInputTest {

    @TempDir
    Path dir;

    private static HttpResponse<String> json(AttendServer server, String method, String path, String body) {
        return TestHttp.send(TestHttp.request(server, path).header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private static void assertError(HttpResponse<String> r, int status) {
        assertThat(r.statusCode()).as("%s %s -> %s", r.request().method(), r.request().uri(), r.body()).isEqualTo(status);
        JsonNode e = TestHttp.json(r).get("error");
        assertThat(e).as(r.body()).isNotNull();
        assertThat(e.get("code").asText()).isNotBlank();
        assertThat(r.body()).doesNotContain("\tat ", "Exception");
    }

    private static List<String> tree(Path root) throws IOException {
        try (var s = Files.walk(root)) {
            return s.map(p -> root.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void pathLikeIdsNeverReachTheDisk() throws Exception {
        try (FullServer full = new FullServer(dir, null, c -> c)) {
            AttendServer server = full.server;
            assertThat(json(server, "POST", "/v1/kv/sessions", "{\"id\":\"keep\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}").statusCode())
                    .isEqualTo(201);
            assertThat(json(server, "POST", "/v1/kv/sessions/keep/append",
                    "{\"layer\":0,\"kvHead\":0,\"position\":0,\"key\":[1,0,0,0],\"value\":[0,1,0,0]}").statusCode()).isEqualTo(200);
            List<String> before = tree(dir);

            for (String id : new String[] {"..", ".", "../x", "a/b", ".hidden", "x".repeat(10_000), "a\\u0000b"}) {
                HttpResponse<String> r = json(server, "POST", "/v1/kv/sessions",
                        "{\"id\":\"" + id + "\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}");
                assertError(r, 400);
                assertThat(r.body().length()).as("the answer does not echo a long id whole").isLessThan(600);
            }
            // the last of two ids would have won
            assertError(json(server, "POST", "/v1/kv/sessions", "{\"id\":\"a\",\"id\":\"..\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}"), 400);
            for (String path : new String[] {"/v1/kv/sessions/%2E%2E", "/v1/kv/sessions/.", "/v1/kv/sessions/..%2Fkv",
                    "/v1/kv/sessions/" + "y".repeat(4000)}) {
                HttpResponse<String> r = TestHttp.send(TestHttp.request(server, "").uri(URI.create(server.url() + path)).DELETE().build());
                assertThat(r.statusCode()).as("DELETE %s -> %s", path, r.body()).isBetween(400, 404);
            }
            for (String path : new String[] {"/v1/recsys/users/" + "9".repeat(4000), "/v1/kv/sessions/" + "z".repeat(4000),
                    "/v1/search/documents/" + "d".repeat(4000)}) {
                HttpResponse<String> r = TestHttp.get(server, path);
                assertThat(r.statusCode()).as(path).isBetween(400, 404);
                assertThat(r.body().length()).as("the answer does not echo a long id whole").isLessThan(600);
            }
            assertThat(tree(dir)).as("nothing on disk changed").isEqualTo(before);
            assertThat(TestHttp.get(server, "/v1/kv/sessions/keep").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void strictJsonRefusesWhatLenientParsingWouldGuess() throws Exception {
        try (FullServer full = new FullServer(dir, null, c -> c)) {
            AttendServer server = full.server;
            String[][] cases = {
                {"/v1/recsys/events", "{\"events\":[{\"user\":1.5,\"item\":1,\"category\":1,\"time\":1}]}"},
                {"/v1/recsys/events", "{\"events\":[{\"user\":\"1\",\"item\":1,\"category\":1,\"time\":1}]}"},
                {"/v1/recsys/events", "{\"events\":[{\"user\":null,\"item\":1,\"category\":1,\"time\":1}]}"},
                {"/v1/kv/sessions", "{\"layers\":1.5,\"kvHeads\":1,\"headDim\":4}"},
                {"/v1/kv/sessions", "{\"layers\":\"1\",\"kvHeads\":1,\"headDim\":4}"},
                {"/v1/kv/sessions", "{\"layers\":1,\"layers\":2,\"kvHeads\":1,\"headDim\":4}"},
                {"/v1/kv/sessions", "null"},
                {"/v1/recsys/events", "null"},
                {"/v1/recsys/events", ""},
                {"/v1/search", "null"},
                {"/v1/kv/sessions", "[".repeat(1001) + "]".repeat(1001)},
                {"/v1/search", "{\"query\":" + "{\"a\":".repeat(1001) + "1" + "}".repeat(1002)},
            };
            for (String[] c : cases) {
                assertError(json(server, "POST", c[0], c[1]), 400);
            }
            assertThat(json(server, "POST", "/v1/kv/sessions", "{\"id\":\"s\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}").statusCode())
                    .isEqualTo(201);
            String before = TestHttp.get(server, "/v1/kv/sessions").body();
            assertError(json(server, "POST", "/v1/kv/sessions/s/append",
                    "{\"layer\":0,\"kvHead\":0,\"position\":0,\"key\":[1,null,0,0],\"value\":[0,1,0,0]}"), 400);
            assertThat(TestHttp.get(server, "/v1/kv/sessions").body()).isEqualTo(before);
            assertThat(TestHttp.get(server, "/v1/recsys/users/1").body()).doesNotContain("\"item\":1,");
            HttpResponse<String> noModel = json(server, "POST", "/v1/recsys/recommend", "{\"user\":1}");
            assertError(noModel, 409);
            assertThat(noModel.body()).as("no file path in an answer").doesNotContain(dir.toString(), "model.bin");
        }
    }

    @Test
    void crossSiteWritesAreRefused() throws Exception {
        try (FullServer full = new FullServer(dir, null, c -> c.withAllowedOrigins(List.of("https://app.example.com")))) {
            AttendServer server = full.server;
            String body = "{\"id\":\"x\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}";
            // what a page elsewhere can send without a preflight: no type, or a form or text/plain
            assertError(TestHttp.send(TestHttp.request(server, "/v1/kv/sessions").POST(HttpRequest.BodyPublishers.ofString(body)).build()), 415);
            assertError(TestHttp.send(TestHttp.request(server, "/v1/kv/sessions").header("Content-Type", "text/plain")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build()), 415);
            assertError(TestHttp.send(TestHttp.request(server, "/v1/search/modulation").POST(HttpRequest.BodyPublishers.noBody()).build()), 415);
            // a foreign origin, even with the right type
            assertError(TestHttp.send(TestHttp.request(server, "/v1/kv/sessions").header("Content-Type", "application/json")
                    .header("Origin", "https://evil.example").POST(HttpRequest.BodyPublishers.ofString(body)).build()), 403);
            assertThat(TestHttp.get(server, "/v1/kv/sessions").body()).doesNotContain("\"x\"");
            // the server's own origin and a configured one pass
            String own = server.url();
            assertThat(TestHttp.send(TestHttp.request(server, "/v1/kv/sessions").header("Content-Type", "application/json")
                    .header("Origin", own).POST(HttpRequest.BodyPublishers.ofString(body)).build()).statusCode()).isEqualTo(201);
            assertThat(TestHttp.send(TestHttp.request(server, "/v1/kv/sessions").header("Content-Type", "application/json")
                    .header("Origin", "https://app.example.com")
                    .POST(HttpRequest.BodyPublishers.ofString(body.replace("\"x\"", "\"y\""))).build()).statusCode()).isEqualTo(201);
        }
    }

    /**
     * Sends a request's head and then its body one byte per {@code pauseMs}, while another thread reads the answer from
     * the start (so an answer followed by the server closing is read, not lost to a reset); returns the status line.
     */
    private static String trickle(AttendServer server, int bodyBytes, int pauseMs, int bytesToSend) {
        URI u = URI.create(server.url());
        try (Socket s = new Socket(u.getHost(), u.getPort())) {
            s.setSoTimeout(60_000);
            CompletableFuture<String> answer = new CompletableFuture<>();
            Thread reader = Thread.ofVirtual().start(() -> {
                try {
                    InputStream in = s.getInputStream();
                    StringBuilder line = new StringBuilder();
                    for (int c; line.length() < 12 && (c = in.read()) >= 0; ) {
                        line.append((char) c);
                    }
                    answer.complete(line.toString());
                } catch (IOException e) {
                    answer.complete("");
                }
            });
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/recsys/recommend HTTP/1.1\r\nHost: " + u.getHost() + ":" + u.getPort()
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + bodyBytes + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            try {
                for (int i = 0; i < bytesToSend && !answer.isDone(); i++) {
                    out.write(' ');
                    out.flush();
                    Thread.sleep(pauseMs);
                }
            } catch (IOException closed) {
                // the server closed the connection on us: the reader has what it said
            }
            String status = answer.get(60, TimeUnit.SECONDS);
            reader.join();
            return status;
        } catch (Exception e) {
            return "";
        }
    }

    @Test
    void slowSendersNeitherHoldPermitsNorHangForever() throws Exception {
        try (FullServer full = new FullServer(dir, null, c -> c.withMaxConcurrentRequests(4).withBodyReadTimeout(Duration.ofSeconds(2)))) {
            AttendServer server = full.server;
            ExecutorService pool = Executors.newFixedThreadPool(16);
            try {
                List<Future<String>> slow = new ArrayList<>();
                for (int i = 0; i < 12; i++) { // three times the permits, each sending a byte every 100 ms
                    slow.add(pool.submit(() -> trickle(server, 1000, 100, 1000)));
                }
                Thread.sleep(500);
                for (int i = 0; i < 5; i++) { // meanwhile others are served, not refused with 429
                    HttpResponse<String> r = json(server, "POST", "/v1/kv/sessions", "{\"id\":\"ok" + i + "\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}");
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
                }
                Future<String> stalled = pool.submit(() -> trickle(server, 1000, 100, 0)); // sends its head, then nothing
                for (Future<String> f : slow) {
                    assertThat(f.get(60, TimeUnit.SECONDS)).as("a trickling body is cut off with a 408").startsWith("HTTP/1.1 408");
                }
                assertThat(stalled.get(60, TimeUnit.SECONDS)).as("a stalled body is cut off with a 408").startsWith("HTTP/1.1 408");
                // a client that goes away mid-body leaves nothing behind
                URI u = URI.create(server.url());
                try (Socket s = new Socket(u.getHost(), u.getPort())) {
                    s.getOutputStream().write(("POST /v1/kv/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            + "Content-Length: 100\r\n\r\n{\"id\":").getBytes(StandardCharsets.US_ASCII));
                }
                assertThat(TestHttp.get(server, "/v1/kv/sessions").statusCode()).isEqualTo(200);
                assertThat(TestHttp.json(TestHttp.get(server, "/health")).get("status").asText()).isEqualTo("ok");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void absurdShapesAndOverflowingVectorsAreRefusedBeforeAnythingIsHeld() throws Exception {
        try (FullServer full = new FullServer(dir, null, c -> c)) {
            AttendServer server = full.server;
            List<String> before = tree(dir);
            // issue 20 item 3: this ran out of memory and left a configuration that killed every restart
            for (String shape : new String[] {"\"layers\":1000000,\"kvHeads\":1000000", "\"layers\":1000000,\"kvHeads\":1",
                    "\"layers\":1,\"kvHeads\":1000000", "\"layers\":1024,\"kvHeads\":1024"}) {
                HttpResponse<String> r = json(server, "POST", "/v1/kv/sessions", "{\"id\":\"big\"," + shape + ",\"headDim\":4}");
                assertError(r, 400);
                assertThat(r.body()).contains("attend.kv-max");
            }
            assertThat(tree(dir)).isEqualTo(before);
            // a legal but large shape costs nothing until written, and says so
            HttpResponse<String> wide = json(server, "POST", "/v1/kv/sessions", "{\"id\":\"wide\",\"layers\":64,\"kvHeads\":64,\"headDim\":4}");
            assertThat(wide.statusCode()).as(wide.body()).isEqualTo(201);
            assertThat(TestHttp.json(wide).get("memoryBytes").asLong()).isPositive().isLessThan(64L << 20);
            // issue 20 item 9: float32-max keys gave a 200 whose output was "NaN"
            assertThat(json(server, "POST", "/v1/kv/sessions", "{\"id\":\"s\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}").statusCode())
                    .isEqualTo(201);
            assertThat(json(server, "POST", "/v1/kv/sessions/s/append",
                    "{\"layer\":0,\"kvHead\":0,\"position\":0,\"key\":[1,0,0,0],\"value\":[0,1,0,0]}").statusCode()).isEqualTo(200);
            long held = TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/s")).get("memoryBytes").asLong();
            assertError(json(server, "POST", "/v1/kv/sessions/s/append",
                    "{\"layer\":0,\"kvHead\":0,\"position\":1,\"key\":[3.4e38,3.4e38,0,0],\"value\":[0,1,0,0]}"), 400);
            assertError(json(server, "POST", "/v1/kv/sessions/s/attend",
                    "{\"layer\":0,\"queries\":[{\"queryHead\":0,\"query\":[3.4e38,-3.4e38,0,0]}]}"), 400);
            HttpResponse<String> fine = json(server, "POST", "/v1/kv/sessions/s/attend",
                    "{\"layer\":0,\"queries\":[{\"queryHead\":0,\"query\":[1000,-1000,0,0]}]}");
            assertThat(fine.statusCode()).as(fine.body()).isEqualTo(200);
            assertThat(fine.body()).doesNotContain("NaN", "Infinity");
            assertThat(TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/s")).get("memoryBytes").asLong()).isEqualTo(held);
        }
    }

    @Test
    void aFullDiskIsA507ThatAppliesNothingAndPassesWhenSpaceReturns() throws Exception {
        try (Tmpfs small = Tmpfs.mount(dir.resolve("small"), "8m")) {
            if (small == null) {
                System.out.println("HostileInputTest: no tmpfs can be mounted here, so the server's full-disk answer is not run; "
                        + "each store's tests inject the failure instead");
                Assumptions.abort("mount refused");
            }
            System.out.println("HostileInputTest: a real full file system (tmpfs of 8 MiB) under the server's stores");
            try (FullServer full = new FullServer(small.dir(), null, c -> c)) {
                AttendServer server = full.server;
                assertThat(json(server, "POST", "/v1/kv/sessions", "{\"id\":\"s\",\"layers\":1,\"kvHeads\":1,\"headDim\":64}")
                        .statusCode()).isEqualTo(201);
                Path filler = small.dir().resolve("filler");
                Tmpfs.fill(filler);
                StringBuilder rows = new StringBuilder("[");
                for (int t = 0; t < 400; t++) {
                    rows.append(t == 0 ? "" : ",").append("[").append("0.25,".repeat(63)).append(t % 7).append("]");
                }
                rows.append("]");
                String prefill = "{\"layer\":0,\"kvHead\":0,\"from\":0,\"keys\":" + rows + ",\"values\":" + rows + ",\"queries\":[]}";
                HttpResponse<String> full507 = json(server, "POST", "/v1/kv/sessions/s/prefill", prefill);
                assertError(full507, 507);
                assertThat(TestHttp.json(full507).get("error").get("code").asText()).isEqualTo("insufficient_storage");
                assertThat(full507.body()).doesNotContain(small.dir().toString());
                assertThat(TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/s")).toString()).contains("\"tokens\"").isNotNull();
                assertThat(TestHttp.get(server, "/v1/kv/sessions").body()).contains("\"tokens\":0");
                // issue 20 item 4: a batch answered 500 was partly applied, and the Lucene writer stayed closed after space returned
                StringBuilder events = new StringBuilder("{\"events\":[");
                for (int i = 0; i < 20_000; i++) {
                    events.append(i == 0 ? "" : ",").append("{\"user\":9,\"item\":").append(1000 + i).append(",\"category\":1,\"time\":")
                            .append(i).append("}");
                }
                String batch = events.append("]}").toString();
                assertError(json(server, "POST", "/v1/recsys/events", batch), 507);
                assertThat(TestHttp.json(TestHttp.get(server, "/v1/recsys/users/9")).get("length").asInt()).as("nothing of the batch").isZero();
                StringBuilder docs = new StringBuilder("{\"documents\":[");
                for (int i = 0; i < 50; i++) {
                    docs.append(i == 0 ? "" : ",").append("{\"id\":\"doc").append(i).append("\",\"title\":\"t\",\"text\":\"")
                            .append("word ".repeat(2000)).append(i).append("\"}");
                }
                String documents = docs.append("]}").toString();
                assertError(json(server, "POST", "/v1/search/documents", documents), 507);
                assertThat(TestHttp.json(TestHttp.get(server, "/v1/search/index")).get("documents").asInt()).isZero();

                Files.delete(filler); // space returns: the same writes pass, no restart
                HttpResponse<String> ok = json(server, "POST", "/v1/kv/sessions/s/prefill", prefill);
                assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
                assertThat(TestHttp.get(server, "/v1/kv/sessions").body()).contains("\"tokens\":400");
                assertThat(json(server, "POST", "/v1/recsys/events", batch).statusCode()).isEqualTo(200);
                assertThat(TestHttp.json(TestHttp.get(server, "/v1/recsys/users/9")).get("length").asInt()).isPositive();
                HttpResponse<String> indexed = json(server, "POST", "/v1/search/documents", documents);
                assertThat(indexed.statusCode()).as(indexed.body()).isEqualTo(200);
                assertThat(TestHttp.json(TestHttp.get(server, "/v1/search/index")).get("documents").asInt()).isEqualTo(50);
            }
        }
    }

    private static void flip(Path file, long at, int bytes) throws IOException {
        byte[] b = Files.readAllBytes(file);
        for (int i = 0; i < bytes; i++) {
            b[(int) at + i] ^= (byte) 0x5a;
        }
        Files.write(file, b);
    }

    @Test
    void damagedFilesAreQuarantinedReportedAndNeverServed() throws Exception {
        Path model = dir.resolve("recsys/model.bin");
        List<BehaviorEvent> training = new ArrayList<>();
        for (int u = 0; u < 5; u++) {
            for (int j = 0; j < 10; j++) {
                training.add(new BehaviorEvent(u, 500 + (u * 7 + j) % 40, j % 3, "pv", 1000 + j));
            }
        }
        var catalog = UserSequences.of(training).catalog();
        Files.createDirectories(model.getParent());
        ModelFiles.save(new SequenceModel(new ModelConfig(
                ModelConfig.Kind.DARE, 4, 8, 3, new int[] {8}), catalog.items(), catalog.categories(), 2), catalog, model);
        try (FullServer full = new FullServer(dir, model, c -> c)) {
            AttendServer server = full.server;
            assertThat(json(server, "POST", "/v1/search/documents", "{\"documents\":[{\"id\":\"d1\",\"title\":\"t\",\"text\":\"hello world\"},"
                    + "{\"id\":\"d2\",\"title\":\"u\",\"text\":\"another text\"}]}").statusCode()).isEqualTo(200);
            assertThat(json(server, "POST", "/v1/recsys/events", "{\"events\":[{\"user\":1,\"item\":501,\"category\":1,\"time\":5}]}")
                    .statusCode()).isEqualTo(200);
            assertThat(json(server, "POST", "/v1/recsys/recommend", "{\"user\":1}").statusCode()).isEqualTo(200);
            for (String id : new String[] {"good", "torn", "noconfig"}) {
                assertThat(json(server, "POST", "/v1/kv/sessions", "{\"id\":\"" + id + "\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}")
                        .statusCode()).isEqualTo(201);
                for (int p = 0; p < 200; p++) {
                    assertThat(json(server, "POST", "/v1/kv/sessions/" + id + "/append", "{\"layer\":0,\"kvHead\":0,\"position\":" + p
                            + ",\"key\":[1," + p + ",0,0],\"value\":[0,1,0," + p + "]}").statusCode()).isEqualTo(200);
                }
            }
        }
        Path torn = dir.resolve("kv/torn/journal.log");
        long size = Files.size(torn);
        flip(torn, size / 2, 16); // issue 20 item 5: replay stopped here and truncated the 100 good records after it
        Files.delete(dir.resolve("kv/noconfig/session.properties"));
        flip(model, Files.size(model) / 2, 16); // issue 20 item 5: it loaded and scored wrong
        try (var files = Files.list(dir.resolve("search/lucene"))) { // issue 20 item 5: the index started empty and lost its segments
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("segments_")).toList()) {
                Files.delete(f);
            }
        }
        try (FullServer full = new FullServer(dir, model, c -> c)) {
            AttendServer server = full.server;
            JsonNode health = TestHttp.json(TestHttp.get(server, "/health"));
            assertThat(health.get("status").asText()).as(health.toString()).isEqualTo("degraded");
            assertThat(health.get("problems").toString()).contains("torn", "noconfig", "model.bin", "document index")
                    .doesNotContain(dir.toString());
            assertThat(health.get("components").get("storage").get("status").asText()).isEqualTo("degraded");
            // no wrong scores, no empty index passed off as the old one: the model and the index are moved aside whole
            assertError(json(server, "POST", "/v1/recsys/recommend", "{\"user\":1}"), 409);
            try (var q = Files.list(dir.resolve("recsys/quarantine"))) {
                assertThat(q.map(p -> p.getFileName().toString()).toList()).anySatisfy(n -> assertThat(n).endsWith("model.bin"));
            }
            try (var q = Files.list(dir.resolve("search/quarantine"))) {
                Path lucene = q.filter(Files::isDirectory).findFirst().orElseThrow();
                try (var segs = Files.list(lucene)) {
                    assertThat(segs.count()).as("the segment files are kept for an operator").isPositive();
                }
            }
            assertThat(TestHttp.get(server, "/v1/recsys/users/1").body()).contains("501"); // the behaviour log was not damaged
            assertThat(TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/good")).get("heads").get(0)).isNotNull();
            assertThat(TestHttp.get(server, "/v1/kv/sessions").body()).contains("\"id\":\"good\"").contains("\"tokens\":200");
            // the damaged session is not served with a hole: it is moved aside, whole, with its journal untouched
            assertThat(TestHttp.get(server, "/v1/kv/sessions/torn").statusCode()).isEqualTo(404);
            assertThat(TestHttp.get(server, "/v1/kv/sessions/noconfig").statusCode()).isEqualTo(404);
            try (var q = Files.list(dir.resolve("kv/quarantine"))) {
                List<Path> moved = q.toList();
                assertThat(moved).anySatisfy(p -> assertThat(p.getFileName().toString()).endsWith("torn"));
                assertThat(moved).anySatisfy(p -> assertThat(p.getFileName().toString()).endsWith("noconfig"));
                Path kept = moved.stream().filter(p -> p.getFileName().toString().endsWith("torn")).findFirst().orElseThrow();
                assertThat(Files.size(kept.resolve("journal.log"))).as("nothing truncated").isEqualTo(size);
            }
            // the id starts clean when created again
            assertThat(json(server, "POST", "/v1/kv/sessions", "{\"id\":\"noconfig\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}")
                    .statusCode()).isEqualTo(201);
        }
    }
}
