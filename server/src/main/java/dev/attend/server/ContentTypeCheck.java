package dev.attend.server;

import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.Locale;
import java.util.Map;

/**
 * A POST, PUT or PATCH must say it is JSON ({@code application/json}, {@code application/*+json}), even with an empty
 * body; the KV session endpoints also take {@code application/octet-stream} (vectors as raw floats). Anything else (a
 * form, XML, an upload) or nothing is a 415 naming what is accepted, rather than a parse error about its first byte. A
 * browser sends a cross-site write without a preflight only with no type or a CORS-safelisted one (a form,
 * {@code text/plain}), so this also keeps other sites' pages from writing to a server that has no token.
 */
final class ContentTypeCheck implements Handler {

    @Override
    public void handle(Context ctx) {
        String method = ctx.method().name();
        if (!(method.equals("POST") || method.equals("PUT") || method.equals("PATCH"))) {
            return;
        }
        String type = ctx.contentType();
        if (type == null || type.isBlank()) {
            throw new ApiException(415, ErrorCodes.UNSUPPORTED_MEDIA_TYPE, "a " + method + " needs a Content-Type: send "
                    + (ctx.path().startsWith("/v1/kv/sessions/") ? "application/json or application/octet-stream" : "application/json"),
                    Map.of());
        }
        String media = type.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        boolean json = media.equals("application/json") || (media.startsWith("application/") && media.endsWith("+json"));
        boolean binary = media.equals("application/octet-stream") && ctx.path().startsWith("/v1/kv/sessions/");
        if (!json && !binary) {
            throw new ApiException(415, ErrorCodes.UNSUPPORTED_MEDIA_TYPE, "Content-Type " + media + " is not accepted here: send "
                    + (ctx.path().startsWith("/v1/kv/sessions/") ? "application/json or application/octet-stream" : "application/json"),
                    Map.of("contentType", media));
        }
    }
}
