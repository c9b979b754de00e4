package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /openapi.json} describes exactly the endpoints a full server (every module, as {@code attend serve} wires them) registers. */
class OpenApiTest {

    @TempDir
    Path dir;

    @Test
    void theDocumentDescribesEveryRegisteredEndpointAndNothingElse() throws Exception {
        try (FullServer full = new FullServer(dir, null, c -> c)) {
            AttendServer server = full.server;
            HttpResponse<String> r = TestHttp.get(server, "/openapi.json");
            assertThat(r.statusCode()).isEqualTo(200);
            JsonNode doc = TestHttp.json(r);
            assertThat(doc.get("openapi").asText()).startsWith("3.");
            List<String> documented = new ArrayList<>();
            Pattern braces = Pattern.compile("\\{([^}]+)}");
            doc.get("paths").properties().forEach(path -> path.getValue().properties().forEach(op -> {
                documented.add(op.getKey().toUpperCase(Locale.ROOT) + " " + path.getKey());
                // every path parameter is declared, and no other
                List<String> inPath = new ArrayList<>();
                Matcher m = braces.matcher(path.getKey());
                while (m.find()) {
                    inPath.add(m.group(1));
                }
                List<String> declared = new ArrayList<>();
                JsonNode params = op.getValue().get("parameters");
                if (params != null) {
                    params.forEach(p -> {
                        if (p.get("in").asText().equals("path")) {
                            declared.add(p.get("name").asText());
                        }
                    });
                }
                assertThat(declared).as("path parameters of %s %s", op.getKey(), path.getKey()).containsExactlyInAnyOrderElementsOf(inPath);
                assertThat(op.getValue().get("responses").size()).as("responses of %s %s", op.getKey(), path.getKey()).isPositive();
            }));
            assertThat(documented).containsExactlyInAnyOrderElementsOf(server.routes());
        }
    }

    /** The document is a valid OpenAPI 3.1 document by an independent parser (swagger-parser), with and without a token. */
    @Test
    void theDocumentIsValidOpenApi() throws Exception {
        for (boolean auth : new boolean[] {false, true}) {
            String body = new String(OpenApi.document(auth), java.nio.charset.StandardCharsets.UTF_8);
            io.swagger.v3.parser.core.models.ParseOptions options = new io.swagger.v3.parser.core.models.ParseOptions();
            options.setResolve(true);
            io.swagger.v3.parser.core.models.SwaggerParseResult parsed = new io.swagger.v3.parser.OpenAPIV3Parser().readContents(body, null, options);
            assertThat(parsed.getMessages()).as("token %s", auth).isEmpty();
            assertThat(parsed.getOpenAPI().getOpenapi()).startsWith("3.1");
            assertThat(parsed.getOpenAPI().getPaths()).hasSize(25);
        }
    }

    @Test
    void everyOperationHasAUniqueIdAndSecurityFollowsTheConfiguration() throws Exception {
        try (FullServer open = new FullServer(dir.resolve("open"), null, c -> c)) {
            JsonNode doc = TestHttp.json(TestHttp.get(open.server, "/openapi.json"));
            List<String> ids = new ArrayList<>();
            doc.get("paths").properties().forEach(path -> path.getValue().properties().forEach(op -> {
                assertThat(op.getValue().has("operationId")).as("%s %s", op.getKey(), path.getKey()).isTrue();
                ids.add(op.getValue().get("operationId").asText());
            }));
            assertThat(ids).doesNotHaveDuplicates();
            assertThat(doc.get("security")).as("no token: no security scheme required").isEmpty();
        }
        String token = "a-token-of-enough-length-1234";
        try (FullServer guarded = new FullServer(dir.resolve("guarded"), null, c -> c.withAuthToken(token))) {
            HttpResponse<String> r = TestHttp.send(TestHttp.request(guarded.server, "/openapi.json").header("Authorization", "Bearer " + token)
                    .GET().build());
            JsonNode doc = TestHttp.json(r);
            assertThat(doc.get("security").get(0).has("bearer")).isTrue();
            assertThat(doc.get("paths").get("/health").get("get").get("security")).isEmpty(); // /health needs none
        }
    }

    /** The real answers of the KV API (what inference engines call) are valid under the document's response schemas. */
    @Test
    void theKvAnswersMatchTheirSchemas() throws Exception {
        try (FullServer full = new FullServer(dir, null, c -> c)) {
            AttendServer server = full.server;
            JsonNode doc = TestHttp.json(TestHttp.get(server, "/openapi.json"));
            SchemaCheck check = new SchemaCheck(doc);
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
            int d = 8;
            java.util.function.IntFunction<double[][]> rows = n -> {
                double[][] out = new double[n][d];
                for (double[] row : out) {
                    for (int c = 0; c < d; c++) {
                        row[c] = rnd.nextGaussian();
                    }
                }
                return out;
            };
            String k = "/v1/kv/sessions";
            check.answer("post", k, "201", post(check, server, k, k, java.util.Map.of("id", "oa", "layers", 1, "kvHeads", 1,
                    "queryHeadsPerKvHead", 2, "headDim", d)));
            check.answer("post", k + "/{id}/prefill", "200", post(check, server, k + "/{id}/prefill", k + "/oa/prefill", java.util.Map.of("layer", 0, "kvHead", 0,
                    "from", 0, "keys", rows.apply(1200), "values", rows.apply(1200), "queries", rows.apply(300))));
            check.answer("post", k + "/{id}/append", "200", post(check, server, k + "/{id}/append", k + "/oa/append", java.util.Map.of("layer", 0, "kvHead", 0,
                    "position", 1200, "key", rows.apply(1)[0], "value", rows.apply(1)[0])));
            check.answer("post", k + "/{id}/attend", "200", post(check, server, k + "/{id}/attend", k + "/oa/attend", java.util.Map.of("layer", 0,
                    "queries", List.of(java.util.Map.of("queryHead", 1, "query", rows.apply(1)[0])))));
            check.answer("post", k + "/{id}/decode", "200", post(check, server, k + "/{id}/decode", k + "/oa/decode", java.util.Map.of("layer", 0, "kvHead", 0,
                    "position", 1201, "key", rows.apply(1)[0], "value", rows.apply(1)[0],
                    "queries", List.of(java.util.Map.of("queryHead", 0, "query", rows.apply(1)[0])))));
            check.answer("post", k + "/{id}/decode-layer", "200", post(check, server, k + "/{id}/decode-layer", k + "/oa/decode-layer", java.util.Map.of("layer", 0,
                    "position", 1202, "keys", rows.apply(1), "values", rows.apply(1), "queries", rows.apply(2))));
            check.answer("post", k + "/{id}/accuracy", "200", post(check, server, k + "/{id}/accuracy", k + "/oa/accuracy", java.util.Map.of("layer", 0)));
            check.answer("get", k + "/{id}", "200", TestHttp.get(server, k + "/oa"));
            check.answer("get", k, "200", TestHttp.get(server, k));
            check.answer("get", "/health", "200", TestHttp.get(server, "/health"));
            check.answer("post", k + "/{id}/append", "400", post(check, server, k + "/{id}/append", k + "/oa/append", java.util.Map.of("layer", 0, "kvHead", 0,
                    "position", 5, "key", rows.apply(1)[0], "value", rows.apply(1)[0])));
            check.answer("get", k + "/{id}", "404", TestHttp.get(server, k + "/nobody"));
            assertThat(check.checked).isEqualTo(12);
            assertThat(check.requests).isEqualTo(8);
        }
    }

    /** The real answers of the recommendation and search endpoints are valid under their schemas too. */
    @Test
    void theRecsysAndSearchAnswersMatchTheirSchemas() throws Exception {
        java.util.List<dev.attend.recsys.data.BehaviorEvent> known = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            known.add(new dev.attend.recsys.data.BehaviorEvent(0, i, i % 3, "pv", i));
        }
        dev.attend.recsys.data.UserSequences seed = dev.attend.recsys.data.UserSequences.of(known);
        Path model = dir.resolve("model.bin");
        dev.attend.recsys.model.ModelFiles.save(new dev.attend.recsys.model.SequenceModel(new dev.attend.recsys.model.ModelConfig(
                dev.attend.recsys.model.ModelConfig.Kind.DARE, 8, 16, 10, new int[] {32, 16}), seed.catalog().items(), seed.catalog().categories(),
                1), seed.catalog(), model);
        try (FullServer full = new FullServer(dir.resolve("full"), model, c -> c)) {
            AttendServer server = full.server;
            SchemaCheck check = new SchemaCheck(TestHttp.json(TestHttp.get(server, "/openapi.json")));
            List<java.util.Map<String, Object>> events = new ArrayList<>();
            for (int i = 1; i <= 4; i++) {
                events.add(java.util.Map.of("user", 9, "item", i, "category", i % 3, "action", "pv", "time", 100 + i));
            }
            check.answer("post", "/v1/recsys/events", "200", post(check, server, "/v1/recsys/events", "/v1/recsys/events", java.util.Map.of("events", events)));
            check.answer("get", "/v1/recsys/users/{user}", "200", TestHttp.get(server, "/v1/recsys/users/9"));
            check.answer("post", "/v1/recsys/score", "200", post(check, server, "/v1/recsys/score", "/v1/recsys/score",
                    java.util.Map.of("user", 9, "items", List.of(1, 2, 77))));
            check.answer("post", "/v1/recsys/recommend", "200", post(check, server, "/v1/recsys/recommend", "/v1/recsys/recommend", java.util.Map.of("user", 9, "n", 3)));
            check.answer("post", "/v1/recsys/explain", "200", post(check, server, "/v1/recsys/explain", "/v1/recsys/explain", java.util.Map.of("user", 9, "item", 2)));
            check.answer("get", "/v1/recsys/model", "200", TestHttp.get(server, "/v1/recsys/model"));
            check.answer("post", "/v1/search/documents", "200", post(check, server, "/v1/search/documents", "/v1/search/documents", java.util.Map.of("documents",
                    List.of(java.util.Map.of("id", "d1", "title", "Cataloguing", "text", "Rules for cataloguing books", "fields",
                            java.util.Map.of("lang", List.of("en"))), java.util.Map.of("id", "d2", "text", "Indexing by machine")))));
            check.answer("post", "/v1/search", "200", post(check, server, "/v1/search", "/v1/search", java.util.Map.of("query", "cataloguing books", "mode", "rrf")));
            check.answer("get", "/v1/search/documents/{id}", "200", TestHttp.get(server, "/v1/search/documents/d1"));
            check.answer("get", "/v1/search/index", "200", TestHttp.get(server, "/v1/search/index"));
            assertThat(check.checked).isEqualTo(10);
            assertThat(check.requests).isEqualTo(6);
        }
    }

    /** POSTs {@code body} as JSON after checking it against the operation's request schema. */
    private static HttpResponse<String> post(SchemaCheck check, AttendServer server, String template, String url, Object body) {
        return TestHttp.postJson(server, url, check.request("post", template, body));
    }

    /** The JSON Schema subset the document uses: $ref, type (or types), properties, required, additionalProperties, items, enum. */
    private static final class SchemaCheck {
        private final JsonNode doc;
        int checked;
        int requests;

        SchemaCheck(JsonNode doc) {
            this.doc = doc;
        }

        /** {@code body} is valid under the operation's JSON request schema (before it is sent). */
        <T> T request(String method, String path, T body) {
            JsonNode schema = doc.get("paths").get(path).get(method).get("requestBody").get("content").get("application/json").get("schema");
            List<String> problems = new ArrayList<>();
            validate(schema, Json.MAPPER.valueToTree(body), "request of " + method.toUpperCase(Locale.ROOT) + " " + path, problems);
            assertThat(problems).isEmpty();
            requests++;
            return body;
        }

        void answer(String method, String path, String status, HttpResponse<String> r) {
            assertThat(String.valueOf(r.statusCode())).as("%s %s: %s", method, path, r.body()).isEqualTo(status);
            JsonNode response = resolve(doc.get("paths").get(path).get(method).get("responses").get(status));
            JsonNode schema = response.get("content").get("application/json").get("schema");
            List<String> problems = new ArrayList<>();
            validate(schema, TestHttp.json(r), method.toUpperCase(Locale.ROOT) + " " + path + " " + status, problems);
            assertThat(problems).as(r.body()).isEmpty();
            checked++;
        }

        private JsonNode resolve(JsonNode node) {
            while (node.has("$ref")) {
                JsonNode at = doc;
                for (String part : node.get("$ref").asText().substring(2).split("/")) {
                    at = at.get(part);
                }
                node = at;
            }
            return node;
        }

        private void validate(JsonNode given, JsonNode value, String where, List<String> problems) {
            JsonNode schema = resolve(given);
            if (schema.has("type")) {
                List<String> types = new ArrayList<>();
                if (schema.get("type").isArray()) {
                    schema.get("type").forEach(t -> types.add(t.asText()));
                } else {
                    types.add(schema.get("type").asText());
                }
                if (types.stream().noneMatch(t -> is(t, value))) {
                    problems.add(where + ": " + value.getNodeType() + " is not " + types);
                    return;
                }
            }
            if (schema.has("enum")) {
                boolean found = false;
                for (JsonNode e : schema.get("enum")) {
                    found |= e.equals(value);
                }
                if (!found) {
                    problems.add(where + ": " + value + " is not one of " + schema.get("enum"));
                }
            }
            if (value.isObject()) {
                JsonNode props = schema.get("properties");
                if (schema.has("required")) {
                    schema.get("required").forEach(n -> {
                        if (!value.has(n.asText())) {
                            problems.add(where + ": '" + n.asText() + "' missing");
                        }
                    });
                }
                value.properties().forEach(f -> {
                    if (props != null && props.has(f.getKey())) {
                        validate(props.get(f.getKey()), f.getValue(), where + "." + f.getKey(), problems);
                    } else if (schema.has("additionalProperties") && schema.get("additionalProperties").isBoolean()) {
                        if (!schema.get("additionalProperties").asBoolean()) {
                            problems.add(where + ": '" + f.getKey() + "' is not in the schema");
                        }
                    } else if (schema.has("additionalProperties")) {
                        validate(schema.get("additionalProperties"), f.getValue(), where + "." + f.getKey(), problems);
                    }
                });
            }
            if (value.isArray() && schema.has("items")) {
                int i = 0;
                for (JsonNode item : value) {
                    validate(schema.get("items"), item, where + "[" + i++ + "]", problems);
                }
            }
        }

        private static boolean is(String type, JsonNode v) {
            return switch (type) {
                case "object" -> v.isObject();
                case "array" -> v.isArray();
                case "string" -> v.isTextual();
                case "integer" -> v.isIntegralNumber();
                case "number" -> v.isNumber();
                case "boolean" -> v.isBoolean();
                case "null" -> v.isNull();
                default -> false;
            };
        }
    }
}
