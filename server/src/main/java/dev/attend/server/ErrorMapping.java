package dev.attend.server;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.attend.index.store.StorageErrors;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Header;
import io.javalin.http.HttpResponseException;
import io.javalin.http.MethodNotAllowedResponse;
import io.javalin.http.NotFoundResponse;
import io.javalin.validation.ValidationError;
import io.javalin.validation.ValidationException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns every exception a request can raise into the one error shape. Javalin's own defaults
 * (HTML or its own JSON, depending on Accept) are replaced so clients see a single format.
 */
final class ErrorMapping {

    private static final Logger LOG = LoggerFactory.getLogger(ErrorMapping.class);

    private final long maxBodyBytes;

    ErrorMapping(long maxBodyBytes) {
        this.maxBodyBytes = maxBodyBytes;
    }

    void register(RoutesConfig routes) {
        routes.exception(ApiException.class, (e, ctx) ->
                ErrorResponses.write(ctx, e.status(), e.code(), e.getMessage(), e.details()));
        routes.exception(HttpResponseException.class, this::javalinResponse);
        routes.exception(ValidationException.class, ErrorMapping::validationFailed);
        routes.exception(JacksonException.class, ErrorMapping::jsonFailure);
        routes.exception(IOException.class, ErrorMapping::storageFailure);
        routes.exception(UncheckedIOException.class, ErrorMapping::storageFailure);
        routes.exception(Exception.class, (e, ctx) -> internal(e, ctx));
    }

    /** Javalin signals 404, 405 and over-long bodies (413) by throwing these. */
    private void javalinResponse(HttpResponseException e, Context ctx) {
        int status = e.getStatus();
        if (status == 413) {
            ErrorResponses.write(ctx, 413, ErrorCodes.PAYLOAD_TOO_LARGE,
                    "Request body exceeds the limit of " + maxBodyBytes + " bytes",
                    Map.of("limitBytes", maxBodyBytes));
        } else if (e instanceof NotFoundResponse) {
            ErrorResponses.write(ctx, 404, ErrorCodes.NOT_FOUND,
                    "No endpoint " + ctx.method().name() + " " + ctx.path(),
                    Map.of("method", ctx.method().name(), "path", ctx.path()));
        } else if (e instanceof MethodNotAllowedResponse) {
            String allowed = e.getDetails().getOrDefault("availableMethods",
                    e.getDetails().getOrDefault("Available methods", ""));
            ctx.header(Header.ALLOW, allowed);
            ErrorResponses.write(ctx, 405, ErrorCodes.METHOD_NOT_ALLOWED,
                    "Method " + ctx.method().name() + " is not allowed on " + ctx.path(),
                    Map.of("allowedMethods", List.of(allowed.split(",\\s*"))));
        } else if (status >= 500) {
            internal(e, ctx);
        } else {
            ErrorResponses.write(ctx, status, ErrorCodes.forStatus(status), e.getMessage(), Map.copyOf(e.getDetails()));
        }
    }

    private static void validationFailed(ValidationException e, Context ctx) {
        Map<String, Object> fields = new LinkedHashMap<>();
        e.getErrors().forEach((field, errors) ->
                fields.put(field, errors.stream().map(ValidationError::getMessage).toList()));
        ErrorResponses.write(ctx, 400, ErrorCodes.BAD_REQUEST, "Request validation failed", Map.of("fields", fields));
    }

    /**
     * Syntax errors and type mismatches in a request body are the client's fault (400); any other
     * Jackson failure (e.g. a response that cannot be serialised) is ours (500). Binding errors are
     * reworded by field path because Jackson's own text names our Java classes.
     */
    private static void jsonFailure(JacksonException e, Context ctx) {
        Map<String, Object> details = new LinkedHashMap<>();
        JsonLocation location = e.getLocation();
        if (location != null && location.getLineNr() > 0) {
            details.put("line", location.getLineNr());
            details.put("column", location.getColumnNr());
        }
        String message;
        StreamConstraintsException limit = e instanceof StreamConstraintsException c
                ? c : e.getCause() instanceof StreamConstraintsException c2 ? c2 : null;
        if (limit != null) {
            ErrorResponses.write(ctx, 400, ErrorCodes.BAD_REQUEST, "The JSON body exceeds a limit: nesting deeper than " + Json.MAX_NESTING
                    + " levels, or a number or string too long", details);
            return;
        }
        if (e instanceof UnrecognizedPropertyException unknown) {
            message = "Unknown field \"" + unknown.getPropertyName() + "\"";
            details.put("field", jsonPath(unknown));
        } else if (e instanceof MismatchedInputException mismatch) {
            message = mismatch.getPath().isEmpty() ? "Request body has the wrong JSON type"
                    : "Invalid value for field \"" + jsonPath(mismatch) + "\"";
            details.put("field", jsonPath(mismatch));
        } else if (e instanceof StreamReadException) {
            message = "Malformed JSON: " + e.getOriginalMessage();
        } else if (e.getCause() instanceof StreamReadException syntax) {
            // A syntax error met while binding a field (NaN inside an array of numbers) comes wrapped with the field's path.
            message = "Malformed JSON: " + syntax.getOriginalMessage();
            if (e instanceof JsonMappingException mapping && !mapping.getPath().isEmpty()) {
                details.put("field", jsonPath(mapping));
            }
        } else {
            internal(e, ctx);
            return;
        }
        ErrorResponses.write(ctx, 400, ErrorCodes.BAD_REQUEST, message, details);
    }

    private static String jsonPath(JsonMappingException e) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                path.append(path.isEmpty() ? "" : ".").append(ref.getFieldName());
            } else {
                path.append('[').append(ref.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    /**
     * A store's write failed (its data unchanged: writes apply whole or not at all): 507 when the disk is full, else 503.
     * The message says what to do; the paths and the stack stay in the log, under the id the answer gives.
     */
    static void storageFailure(Exception e, Context ctx) {
        String errorId = UUID.randomUUID().toString();
        if (StorageErrors.isDiskFull(e)) {
            LOG.error("Disk full on {} {} ({}): {}", ctx.method().name(), ctx.path(), errorId, e.toString());
            ctx.header("Retry-After", "60");
            ErrorResponses.write(ctx, 507, ErrorCodes.INSUFFICIENT_STORAGE, "the server's disk is full: nothing of this request was "
                    + "applied; retry once space is freed", Map.of("errorId", errorId));
        } else {
            LOG.error("Storage failure on {} {} ({})", ctx.method().name(), ctx.path(), errorId, e);
            ErrorResponses.write(ctx, 503, ErrorCodes.STORAGE_UNAVAILABLE, "the server could not read or write its files: nothing of "
                    + "this request was applied (the log has the cause under errorId)", Map.of("errorId", errorId));
        }
    }

    /** The stack trace goes to the log under an id the client can quote; the client sees only the id. */
    static void internal(Exception e, Context ctx) {
        String errorId = UUID.randomUUID().toString();
        if (e instanceof InterruptedException) {
            // Jetty interrupts handlers still running when the shutdown timeout runs out; not a bug.
            LOG.warn("Request {} {} interrupted ({}), probably cut off by shutdown", ctx.method().name(), ctx.path(), errorId);
        } else {
            LOG.error("Unhandled error {} on {} {}", errorId, ctx.method().name(), ctx.path(), e);
        }
        ErrorResponses.write(ctx, 500, ErrorCodes.INTERNAL, "Internal server error", Map.of("errorId", errorId));
    }
}
