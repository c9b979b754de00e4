package dev.attend.server;

import io.javalin.http.Handler;
import io.javalin.router.Endpoint;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Javalin routes {@link Error}s (AssertionError, NoClassDefFoundError, ...) around the exception
 * handlers to a bare 500 with an empty body. This guard turns recoverable ones back into
 * exceptions so they get the normal error shape, and gives the rest a last-resort JSON body.
 */
final class ErrorGuard {

    private static final Logger LOG = LoggerFactory.getLogger(ErrorGuard.class);

    /** Carries an Error through Javalin's exception mapping, which only accepts Exceptions. */
    static final class HandlerError extends RuntimeException {
        HandlerError(Error cause) {
            super(cause.toString(), cause);
        }
    }

    private ErrorGuard() {
    }

    /** For {@code config.router.handlerWrapper}: applied to every before/endpoint/after handler. */
    static Handler wrap(Endpoint endpoint) {
        Handler handler = endpoint.handler;
        return ctx -> {
            try {
                handler.handle(ctx);
            } catch (VirtualMachineError e) {
                throw e; // out of memory or stack: let lastResort deal with it, do not allocate more
            } catch (Error e) {
                throw new HandlerError(e);
            }
        };
    }

    /** For {@code config.router.javaLangErrorHandler}: only VirtualMachineErrors should get here. */
    static void lastResort(HttpServletResponse res, Error error) {
        LOG.error("Fatal error while serving a request", error);
        if (res.isCommitted()) {
            return;
        }
        try {
            res.resetBuffer();
            res.setStatus(500);
            res.setContentType("application/json");
            res.getOutputStream().write(ErrorResponses.INTERNAL_FALLBACK.getBytes(StandardCharsets.UTF_8));
        } catch (IOException | IllegalStateException e) {
            LOG.debug("Could not write the error body", e);
        }
    }
}
