package dev.attend.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The OpenAPI 3.1 document of every endpoint, {@code GET /openapi.json}: written by hand beside this class
 * ({@code openapi.json}), and kept equal to the routes a full server registers, with the answers of real calls
 * valid under its schemas, by {@code OpenApiTest}. Its security follows the server's configuration: the bearer
 * scheme on every path but {@code /health} with a token, none without.
 */
final class OpenApi {

    private static final byte[] WITH_TOKEN = load();
    private static final byte[] WITHOUT_TOKEN = withoutSecurity(WITH_TOKEN);

    private OpenApi() {
    }

    /** The document for a server that asks for a bearer token ({@code authRequired}) or does not. */
    static byte[] document(boolean authRequired) {
        return (authRequired ? WITH_TOKEN : WITHOUT_TOKEN).clone();
    }

    private static byte[] withoutSecurity(byte[] document) {
        try {
            ObjectNode doc = (ObjectNode) Json.MAPPER.readTree(document);
            doc.set("security", doc.arrayNode());
            return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(doc);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A file shipped in the server's jar, beside this class ({@code name} relative to its package). */
    static byte[] resource(String name) {
        try (InputStream in = OpenApi.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the server's jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] load() {
        return resource("openapi.json");
    }
}
