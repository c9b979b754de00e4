package dev.attend.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The OpenAPI 3.1 document of every endpoint, {@code GET /openapi.json}: written by hand beside this class
 * ({@code openapi.json}), and kept equal to the routes a full server registers by {@code OpenApiTest}.
 */
final class OpenApi {

    private static final byte[] DOCUMENT = load();

    private OpenApi() {
    }

    static byte[] document() {
        return DOCUMENT.clone();
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
