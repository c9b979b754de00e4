package dev.attend.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.javalin.json.JavalinJackson;
import io.javalin.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Type;
import java.util.Map;
import java.util.stream.Stream;

/** Javalin's Jackson mapper over {@link Json#MAPPER}, refusing a body of {@code null} (a handler would meet a null request). */
final class StrictJsonMapper implements JsonMapper {

    private final JavalinJackson delegate = new JavalinJackson(Json.MAPPER, false);

    @Override
    public <T> T fromJsonString(String json, Type targetType) {
        try {
            return nonNull(Json.MAPPER.readValue(json, Json.MAPPER.constructType(targetType)));
        } catch (JsonProcessingException e) {
            throw sneaky(e);
        }
    }

    @Override
    public <T> T fromJsonStream(InputStream json, Type targetType) {
        try {
            return nonNull(Json.MAPPER.readValue(json, Json.MAPPER.constructType(targetType)));
        } catch (IOException e) {
            throw sneaky(e);
        }
    }

    /** Jackson's own exception reaches the error mapping unwrapped (400 for what the client sent), as Javalin's mapper does. */
    @SuppressWarnings("unchecked")
    private static <E extends Throwable> E sneaky(Throwable e) throws E {
        throw (E) e;
    }

    @Override
    public String toJsonString(Object obj, Type type) {
        return delegate.toJsonString(obj, type);
    }

    @Override
    public InputStream toJsonStream(Object obj, Type type) {
        return delegate.toJsonStream(obj, type);
    }

    @Override
    public void writeToOutputStream(Stream<?> stream, OutputStream outputStream) {
        delegate.writeToOutputStream(stream, outputStream);
    }

    private static <T> T nonNull(T value) {
        if (value == null) {
            throw new ApiException(400, ErrorCodes.BAD_REQUEST, "the request body must be a JSON object, not null or empty", Map.of());
        }
        return value;
    }
}
