package dev.attend.server;

import java.util.Map;

/** JSON body of every failed request: {@code {"error":{"code","message","details"}}}. */
public record ErrorResponse(Error error) {

    /** The inner object; details is always present (possibly empty) so clients need no null checks. */
    public record Error(String code, String message, Map<String, Object> details) {
    }

    public static ErrorResponse of(String code, String message, Map<String, Object> details) {
        return new ErrorResponse(new Error(code, message, details == null ? Map.of() : details));
    }
}
