package dev.attend.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.javalin.http.ContentType;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Writes the single error shape; every failure path of the server ends here. */
public final class ErrorResponses {

    /** Used when even serialising the error fails, so a client still gets the documented shape. */
    static final String INTERNAL_FALLBACK =
            "{\"error\":{\"code\":\"internal\",\"message\":\"Internal server error\",\"details\":{}}}";

    private ErrorResponses() {
    }

    public static void write(Context ctx, int status, String code, String message, Map<String, Object> details) {
        ctx.status(status)
                .contentType(ContentType.APPLICATION_JSON)
                .result(toJson(code, message, details));
    }

    static byte[] toJson(String code, String message, Map<String, Object> details) {
        try {
            return Json.MAPPER.writeValueAsBytes(ErrorResponse.of(code, message, details));
        } catch (JsonProcessingException e) {
            return INTERNAL_FALLBACK.getBytes(StandardCharsets.UTF_8);
        }
    }
}
