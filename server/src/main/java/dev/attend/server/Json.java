package dev.attend.server;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;

/** The one ObjectMapper of the server, shared by Javalin and our own error writers. */
public final class Json {

    /**
     * Unknown properties are rejected so that a misspelt request field is a 400, not a silently
     * ignored option. Trailing tokens after the document are rejected for the same reason, and so is a
     * number or boolean where a string belongs ({@code "query": 42}), which Jackson would turn into text.
     */
    public static final ObjectMapper MAPPER = strictScalars(JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build());

    private static ObjectMapper strictScalars(ObjectMapper m) {
        m.coercionConfigFor(LogicalType.Textual)
                .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
        return m;
    }

    private Json() {
    }
}
