package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input against every module of a full server: malformed JSON, wrong types, NaN and infinities, huge arrays,
 * negative and oversized k, unknown ids, a wrong content type, binary bodies of the wrong length, empty bodies.
 * Every case gets a 4xx in the common error shape with no stack trace, the server keeps serving, and what it
 * held before (a KV session's tokens, the indexed documents, a user's behaviours) is unchanged after.
 */
class BadInputTest {

    @TempDir
    Path dir;

    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private record Case(String method, String path, String contentType, byte[] body) {
        static Case json(String method, String path, String body) {
            return new Case(method, path, "application/json", body.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String toString() {
            return method + " " + path + " (" + contentType + ") " + new String(body, 0, Math.min(body.length, 120), StandardCharsets.UTF_8);
        }
    }

    @Test
    void everyBadRequestIsAClear4xxAndChangesNothing() throws Exception {
        try (FullServer full = new FullServer(dir, null, c -> c.withMaxBodyBytes(1 << 20))) {
            AttendServer server = full.server;
            // state to keep: a session with two tokens, one document, a user with two behaviours
            ok(send(server, Case.json("POST", "/v1/kv/sessions", "{\"id\":\"s1\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}")), 201);
            for (int p = 0; p < 2; p++) {
                ok(send(server, Case.json("POST", "/v1/kv/sessions/s1/append",
                        "{\"layer\":0,\"kvHead\":0,\"position\":" + p + ",\"key\":[1,0,0,0],\"value\":[0,1,0,0]}")), 200);
            }
            ok(send(server, Case.json("POST", "/v1/search/documents", "{\"documents\":[{\"id\":\"d1\",\"title\":\"t\",\"text\":\"hello world\"}]}")), 200);
            ok(send(server, Case.json("POST", "/v1/recsys/events",
                    "{\"events\":[{\"user\":7,\"item\":1,\"category\":1,\"time\":1},{\"user\":7,\"item\":2,\"category\":1,\"time\":2}]}")), 200);
            TestHttp.awaitUserLength(server, 7, 2); // accepted events reach the sequence store asynchronously
            String before = state(server);

            StringBuilder huge = new StringBuilder("{\"user\":7,\"items\":[");
            for (int i = 0; i < 10_001; i++) {
                huge.append(i == 0 ? "" : ",").append(i);
            }
            huge.append("]}");
            StringBuilder manyDocs = new StringBuilder("{\"documents\":[");
            for (int i = 0; i < 1001; i++) {
                manyDocs.append(i == 0 ? "" : ",").append("{\"id\":\"x").append(i).append("\"}");
            }
            manyDocs.append("]}");
            List<Case> cases = new ArrayList<>(List.of(
                    // KV sessions
                    Case.json("POST", "/v1/kv/sessions", "{\"layers\":"),
                    Case.json("POST", "/v1/kv/sessions", "{\"layers\":\"two\",\"kvHeads\":1,\"headDim\":4}"),
                    Case.json("POST", "/v1/kv/sessions", "{\"layers\":-1,\"kvHeads\":1,\"headDim\":4}"),
                    Case.json("POST", "/v1/kv/sessions", "{\"layers\":1,\"kvHeads\":1,\"headDim\":4,\"surprise\":true}"),
                    Case.json("POST", "/v1/kv/sessions", "{\"id\":\"s1\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}"),
                    Case.json("POST", "/v1/kv/sessions", "[]"),
                    Case.json("POST", "/v1/kv/sessions", "{\"layers\":1,\"kvHeads\":1,\"headDim\":4,\"policy\":\"sometimes\"}"),
                    Case.json("POST", "/v1/kv/sessions", "{\"layers\":1,\"kvHeads\":1,\"headDim\":4,\"headPolicies\":{\"0/7\":\"full\"}}"),
                    Case.json("POST", "/v1/kv/sessions", ""),
                    Case.json("POST", "/v1/kv/sessions/s1/append", "{\"layer\":0,\"kvHead\":0,\"position\":2,\"key\":[1,0,0],\"value\":[0,1,0,0]}"),
                    Case.json("POST", "/v1/kv/sessions/s1/append", "{\"layer\":0,\"kvHead\":0,\"position\":2,\"key\":[NaN,0,0,0],\"value\":[0,1,0,0]}"),
                    Case.json("POST", "/v1/kv/sessions/s1/append", "{\"layer\":0,\"kvHead\":0,\"position\":2,\"key\":[1e999,0,0,0],\"value\":[0,1,0,0]}"),
                    Case.json("POST", "/v1/kv/sessions/s1/append", "{\"layer\":0,\"kvHead\":0,\"position\":9,\"key\":[1,0,0,0],\"value\":[0,1,0,0]}"),
                    Case.json("POST", "/v1/kv/sessions/s1/append", "{\"layer\":3,\"kvHead\":0,\"position\":2,\"key\":[1,0,0,0],\"value\":[0,1,0,0]}"),
                    Case.json("POST", "/v1/kv/sessions/nope/append", "{\"layer\":0,\"kvHead\":0,\"position\":0,\"key\":[1,0,0,0],\"value\":[0,1,0,0]}"),
                    Case.json("POST", "/v1/kv/sessions/s1/attend", "{\"layer\":0,\"queries\":[{\"queryHead\":0,\"query\":[1,0,0,0]}],\"budget\":-5}"),
                    Case.json("POST", "/v1/kv/sessions/s1/attend", "{\"layer\":0,\"queries\":[{\"queryHead\":4,\"query\":[1,0,0,0]}]}"),
                    Case.json("POST", "/v1/kv/sessions/s1/attend", "{\"layer\":0,\"queries\":\"all\"}"),
                    new Case("POST", "/v1/kv/sessions/s1/append?layer=0&kvHead=0&position=2", "application/octet-stream", new byte[7]),
                    new Case("POST", "/v1/kv/sessions/s1/append?layer=0&kvHead=0&position=2", "application/octet-stream", new byte[4 * 8 + 4]),
                    new Case("POST", "/v1/kv/sessions/s1/append?layer=0&kvHead=0", "application/octet-stream", new byte[4 * 8]),
                    new Case("GET", "/v1/kv/sessions/nope", null, new byte[0]),
                    new Case("DELETE", "/v1/kv/sessions/nope", null, new byte[0]),
                    // search
                    Case.json("POST", "/v1/search", "{\"query\":\"hello\",\"k\":-1}"),
                    Case.json("POST", "/v1/search", "{\"query\":\"hello\",\"k\":100000}"),
                    Case.json("POST", "/v1/search", "{\"query\":\"hello\",\"mode\":\"magic\"}"),
                    Case.json("POST", "/v1/search", "{\"k\":3}"),
                    Case.json("POST", "/v1/search", "{\"query\":42}"),
                    Case.json("POST", "/v1/search/documents", manyDocs.toString()),
                    Case.json("POST", "/v1/search/documents", "{\"documents\":[{\"title\":\"no id\"}]}"),
                    new Case("POST", "/v1/search", "text/plain", "hello".getBytes(StandardCharsets.UTF_8)),
                    new Case("POST", "/v1/search/documents", "multipart/form-data; boundary=x", "--x--".getBytes(StandardCharsets.UTF_8)),
                    new Case("POST", "/v1/search", "application/octet-stream", new byte[] {0, 1, 2, 3}),
                    new Case("GET", "/v1/search/documents/nope", null, new byte[0]),
                    // recommendation
                    Case.json("POST", "/v1/recsys/score", huge.toString()),
                    Case.json("POST", "/v1/recsys/score", "{\"user\":\"seven\",\"items\":[1]}"),
                    Case.json("POST", "/v1/recsys/score", "{\"user\":7,\"items\":[1,2],\"categories\":[1]}"),
                    Case.json("POST", "/v1/recsys/events", "{\"events\":[{\"user\":7,\"item\":3}]}"),
                    Case.json("POST", "/v1/recsys/events", "{\"events\":[{\"user\":7,\"item\":3,\"category\":1,\"time\":-4}]}"),
                    Case.json("POST", "/v1/recsys/events", "{\"events\":{}}"),
                    Case.json("POST", "/v1/recsys/recommend", "{\"user\":7,\"n\":-3}"),
                    new Case("GET", "/v1/recsys/users/abc", null, new byte[0]),
                    new Case("GET", "/v1/recsys/users/7?limit=-1", null, new byte[0])));
            for (Case c : cases) {
                HttpResponse<String> r = send(server, c);
                assertThat(r.statusCode()).as("%s -> %s", c, r.body()).isBetween(400, 499);
                JsonNode error = TestHttp.json(r).get("error");
                assertThat(error).as("%s -> %s", c, r.body()).isNotNull();
                assertThat(error.get("code").asText()).as("%s", c).isNotBlank();
                assertThat(error.get("message").asText()).as("%s", c).isNotBlank();
                assertThat(r.body()).as("%s", c).doesNotContain("Exception").doesNotContain("\tat ");
            }
            assertThat(TestHttp.get(server, "/health").statusCode()).isEqualTo(200);
            assertThat(state(server)).isEqualTo(before);
        }
    }

    /** What the server holds: the session's tokens, the document count, the user's behaviours. */
    private String state(AttendServer server) throws Exception {
        JsonNode session = TestHttp.json(TestHttp.get(server, "/v1/kv/sessions/s1"));
        JsonNode index = TestHttp.json(TestHttp.get(server, "/v1/search/index"));
        JsonNode user = TestHttp.json(TestHttp.get(server, "/v1/recsys/users/7"));
        return session.toString().replaceAll("\"lastUsed[^,}]*", "") + " | " + index.get("documents") + " | " + user.get("length") + " "
                + user.get("behaviors");
    }

    private static void ok(HttpResponse<String> r, int status) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    }

    private HttpResponse<String> send(AttendServer server, Case c) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + c.path())).timeout(Duration.ofSeconds(60));
        if (c.contentType() != null) {
            b.header("Content-Type", c.contentType());
        }
        b.method(c.method(), c.body().length == 0 && !c.method().equals("POST") ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(c.body()));
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
