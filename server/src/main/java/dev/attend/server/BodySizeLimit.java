package dev.attend.server;

import io.javalin.http.Context;
import io.javalin.http.Handler;
import java.util.Map;

/**
 * Rejects a request whose declared Content-Length is over the limit before any byte is read.
 *
 * <p>Bodies without a length (chunked) or with a false one are caught as they are read:
 * {@code ctx.body()}, {@code ctx.bodyAsBytes()} and {@code ctx.bodyAsClass()} stop at
 * {@code config.http.maxRequestSize}, which AttendServer sets to the same limit, and the 413
 * they raise is mapped to the same shape. Handlers must read bodies through those methods, not
 * through {@code ctx.bodyInputStream()}, which is unbounded. An endpoint with a smaller limit registers
 * its own instance as a before-handler on its path.
 */
public final class BodySizeLimit implements Handler {

    private final long maxBodyBytes;

    public BodySizeLimit(long maxBodyBytes) {
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public void handle(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > maxBodyBytes) {
            throw new ApiException(413, ErrorCodes.PAYLOAD_TOO_LARGE,
                    "Request body of " + declared + " bytes exceeds the limit of " + maxBodyBytes + " bytes",
                    Map.of("limitBytes", maxBodyBytes, "contentLength", declared));
        }
    }
}
