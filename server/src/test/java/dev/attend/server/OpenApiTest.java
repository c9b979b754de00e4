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
}
