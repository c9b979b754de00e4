package dev.attend.server;

import java.util.Map;

/**
 * Thrown by any endpoint to answer with the one Attend error shape:
 * {@code {"error":{"code":...,"message":...,"details":{...}}}}.
 *
 * <p>The code is a stable, machine-readable string (clients branch on it); the message is for
 * humans and may change. Details carry structured context such as the offending field.
 */
public class ApiException extends RuntimeException {

    private final int status;
    private final String code;
    private final Map<String, Object> details;

    public ApiException(int status, String code, String message, Map<String, ?> details) {
        super(message);
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("ApiException status must be 4xx or 5xx, got " + status);
        }
        this.status = status;
        this.code = code;
        this.details = details == null ? Map.of() : Map.copyOf(details);
    }

    public ApiException(int status, String code, String message) {
        this(status, code, message, Map.of());
    }

    public static ApiException badRequest(String message, Map<String, ?> details) {
        return new ApiException(400, ErrorCodes.BAD_REQUEST, message, details);
    }

    public static ApiException notFound(String message) {
        return new ApiException(404, ErrorCodes.NOT_FOUND, message);
    }

    /** {@code value}, or a 400 saying that the request field {@code field} is required. */
    public static <T> T required(T value, String field) {
        if (value == null) {
            throw badRequest("'" + field + "' is required", Map.of("field", field));
        }
        return value;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public Map<String, Object> details() {
        return details;
    }
}
