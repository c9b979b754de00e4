package dev.attend.server;

import java.nio.ByteBuffer;
import java.util.Map;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty answers some requests before Javalin sees them: unparseable HTTP (400, 431, ...) and
 * requests arriving during graceful shutdown (503). This keeps those in the same JSON shape
 * instead of Jetty's HTML page, and never includes a stack trace.
 */
final class JettyJsonErrorHandler extends ErrorHandler {

    private static final String JSON = "application/json";

    JettyJsonErrorHandler() {
        setShowStacks(false);
        setShowCauses(false);
    }

    /** Jetty only writes bodies for GET/POST/HEAD by default; every method deserves the shape. */
    @Override
    public boolean errorPageForMethod(String method) {
        return true;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
            Callback callback) {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, JSON);
        response.write(true, ByteBuffer.wrap(body(code, message)), callback);
    }

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, JSON);
        return ByteBuffer.wrap(body(status, reason));
    }

    /** Server-side messages may describe internals, so 5xx always get the plain status text. */
    private static byte[] body(int code, String message) {
        String text = code >= 500 || message == null || message.isBlank() ? HttpStatus.getMessage(code) : message;
        return ErrorResponses.toJson(ErrorCodes.forStatus(code), text, Map.of());
    }
}
