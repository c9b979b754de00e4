package dev.attend.server;

import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;

/** The one ObjectMapper of the server, shared by Javalin and our own error writers. */
public final class Json {

    /** The deepest nesting of arrays and objects a request may have; no request of the API needs more than 4. */
    public static final int MAX_NESTING = 32;

    /**
     * Unknown properties are rejected so that a misspelt request field is a 400, not a silently
     * ignored option. Trailing tokens after the document are rejected for the same reason, and so is a
     * number or boolean where a string belongs ({@code "query": 42}), which Jackson would turn into text.
     */
    public static final ObjectMapper MAPPER = strictScalars(JsonMapper.builder(new JsonFactoryBuilder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING).build())
                    .build())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build());

    /**
     * Also refused: a fraction where an integer belongs ({@code "user": 1.5}), a string where a number belongs
     * ({@code "1"}), {@code null} for a number (Jackson would read 0), a key given twice (the last would win, so
     * {@code {"id":"a","id":".."}} would slip past a check of the first), and nesting deeper than {@value #MAX_NESTING}.
     */
    private static ObjectMapper strictScalars(ObjectMapper m) {
        m.coercionConfigFor(LogicalType.Textual)
                .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
        for (LogicalType t : new LogicalType[] {LogicalType.Integer, LogicalType.Float, LogicalType.Boolean}) {
            m.coercionConfigFor(t)
                    .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.EmptyString, CoercionAction.Fail);
        }
        m.coercionConfigFor(LogicalType.Integer).setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
        return m;
    }

    private Json() {
    }
}
