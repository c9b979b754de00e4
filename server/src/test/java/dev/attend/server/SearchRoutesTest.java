package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.search.MiniLmEmbedder;
import dev.attend.server.search.SearchRoutes;
import java.net.URI;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The search API over a real Lucene index and the real encoder. */
class SearchRoutesTest {

    @TempDir
    static Path dir;
    static SearchRoutes search;
    static AttendServer server;

    @BeforeAll
    static void start() throws Exception {
        search = new SearchRoutes(dir.resolve("search"), MiniLmEmbedder.shared());
        server = AttendServer.builder().routes(search).build()
                .start(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data")).withShutdownTimeout(Duration.ofSeconds(2)));
    }

    @AfterAll
    static void stop() throws Exception {
        server.stop();
        search.close();
    }

    private static HttpResponse<String> post(String path, Object body) {
        return TestHttp.postJson(server, path, body);
    }

    /** Polls the index until the modulation is no longer fitting (60 s at most). */
    private static JsonNode awaitFit() {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        JsonNode m;
        do {
            m = TestHttp.json(TestHttp.get(server, "/v1/search/index")).get("modulation");
            if (!m.get("state").asText().equals("fitting")) {
                return m;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        } while (System.nanoTime() < deadline);
        throw new AssertionError("the fit did not end: " + m);
    }

    private static Map<String, Object> doc(String id, String title, String text) {
        return Map.of("id", id, "title", title, "text", text);
    }

    @Test
    void indexesSearchesEveryWayFitsTheModulationAndRefusesBadRequests() {
        HttpResponse<String> added = post("/v1/search/documents", Map.of("documents", List.of(
                doc("cat", "Cataloguing", "Rules for cataloguing books and serials in public libraries, with subject headings, authority files and shelf lists for every branch."),
                doc("med", "Leukaemia", "Chemotherapy outcomes in children treated for acute leukaemia in a large hospital study over ten years of follow up visits."),
                doc("heart", "Cardiology", "Blood pressure and the risk of heart attack in older adults followed for ten years in a study of public health records."),
                doc("xq7", "Codes", "The procedure identifier XQ7 appears only in this record about classification codes of libraries."))));
        assertThat(added.statusCode()).as(added.body()).isEqualTo(200);
        assertThat(TestHttp.json(added).get("documents").asInt()).isEqualTo(4);

        JsonNode bm25 = TestHttp.json(post("/v1/search", Map.of("query", "xq7", "mode", "bm25", "k", 2)));
        assertThat(bm25.get("hits").get(0).get("id").asText()).isEqualTo("xq7");
        assertThat(bm25.get("hits").get(0).get("bm25").get("rank").asInt()).isEqualTo(1);
        assertThat(bm25.get("hits").get(0).get("dense").get("rank").isNull()).isTrue();
        JsonNode rrf = TestHttp.json(post("/v1/search", Map.of("query", "cancer in kids")));
        assertThat(rrf.get("mode").asText()).isEqualTo("rrf");
        assertThat(rrf.get("hits").get(0).get("id").asText()).isEqualTo("med");
        assertThat(rrf.get("hits").get(0).get("title").asText()).isEqualTo("Leukaemia");

        // modulated modes wait for a modulation
        HttpResponse<String> early = post("/v1/search", Map.of("query", "heart", "mode", "lexsem"));
        assertThat(early.statusCode()).isEqualTo(409);
        assertThat(early.body()).contains("no_modulation");
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/search/index")).get("modulation").get("state").asText()).isEqualTo("none");
        assertThat(post("/v1/search/modulation", Map.of("epochs", 0)).statusCode()).isEqualTo(400);
        HttpResponse<String> fit = post("/v1/search/modulation", Map.of("epochs", 2, "learnedWeights", true));
        assertThat(fit.statusCode()).as(fit.body()).isEqualTo(202);
        JsonNode modulation = awaitFit();
        assertThat(modulation.get("state").asText()).isEqualTo("ready");
        assertThat(modulation.get("learnedWeights").asBoolean()).as("LLR asked for").isTrue();
        assertThat(modulation.get("pairs").asInt()).isPositive();
        assertThat(modulation.get("terms").asInt()).isPositive();
        HttpResponse<String> lexsem = post("/v1/search", Map.of("query", "heart attack risk", "mode", "linear-lexsem", "k", 1));
        assertThat(lexsem.statusCode()).isEqualTo(200);
        assertThat(TestHttp.json(lexsem).get("hits").get(0).get("id").asText()).isEqualTo("heart");

        // filters on metadata fields: a document re-added with fields, searched in every mode with and without them
        assertThat(post("/v1/search/documents", Map.of("documents", List.of(Map.of("id", "med", "title", "Leukaemia",
                "text", "Chemotherapy outcomes in children treated for acute leukaemia.", "fields", Map.of("topic", List.of("medicine")))))).statusCode())
                .isEqualTo(200);
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/search/documents/med")).get("fields").get("topic").get(0).asText()).isEqualTo("medicine");
        for (String mode : List.of("bm25", "dense", "rrf", "linear-lexsem")) {
            JsonNode only = TestHttp.json(post("/v1/search", Map.of("query", "libraries children heart", "mode", mode, "k", 10,
                    "filter", Map.of("topic", List.of("medicine")))));
            assertThat(only.get("hits")).as(mode).hasSize(1);
            assertThat(only.get("hits").get(0).get("id").asText()).as(mode).isEqualTo("med");
        }
        assertThat(post("/v1/search", Map.of("query", "x", "filter", Map.of("topic", List.of()))).body()).contains("lists no value");
        assertThat(post("/v1/search", Map.of("query", "x", "filter", Map.of("bad name", List.of("v")))).statusCode()).isEqualTo(400);
        assertThat(post("/v1/search/documents", Map.of("documents", List.of(Map.of("id", "y", "fields", Map.of("topic", List.of("")))))).statusCode())
                .isEqualTo(400);

        // bad requests: clear 4xx, nothing changed
        assertThat(post("/v1/search", Map.of("query", " ")).statusCode()).isEqualTo(400);
        assertThat(post("/v1/search", Map.of("query", "x", "k", 0)).body()).contains("'k' must be between 1");
        assertThat(post("/v1/search", Map.of("query", "x", "mode", "fuzzy")).body()).contains("unknown search mode 'fuzzy'");
        assertThat(post("/v1/search", "{not json").statusCode()).isEqualTo(400);
        assertThat(post("/v1/search/documents", Map.of("documents", List.of(Map.of("title", "no id")))).body()).contains("documents[0].id");
        assertThat(TestHttp.get(server, "/v1/search/documents/nope").statusCode()).isEqualTo(404);
        assertThat(post("/v1/search/documents", Map.of("documents", List.of(Map.of("id", "x".repeat(600))))).body()).contains("at most 512 characters");
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/search/index")).get("documents").asInt()).isEqualTo(4);

        // get, delete
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/search/documents/cat")).get("title").asText()).isEqualTo("Cataloguing");
        HttpResponse<String> deleted = TestHttp.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/search/documents/cat"))
                .DELETE().build());
        assertThat(deleted.statusCode()).isEqualTo(204);
        assertThat(TestHttp.get(server, "/v1/search/documents/cat").statusCode()).isEqualTo(404);
        assertThat(TestHttp.json(TestHttp.get(server, "/v1/search/index")).get("documents").asInt()).isEqualTo(3);
    }
}
