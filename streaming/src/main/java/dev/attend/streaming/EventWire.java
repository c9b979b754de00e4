package dev.attend.streaming;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BoundedSequence;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The wire format of events on Kafka, version 1. The record key is the user id in decimal (UTF-8): it decides
 * the partition, so that one user's events stay in order on one partition and one instance owns the user. The
 * value is a UTF-8 JSON object:
 *
 * <pre>{"v": 1, "user": 42, "item": 1001, "category": 7, "behavior": "pv", "time": 1511544070,
 *  "context": {"page": "home"}}</pre>
 *
 * {@code v}, {@code user}, {@code item}, {@code category} (integers), {@code behavior} (1 to 64 bytes of text),
 * {@code time} (seconds since the epoch, >= 0) are required; {@code context} (string values) is optional; other
 * fields are refused, as is a key that is not the user. A reader of version 1 refuses any other {@code v}.
 */
public final class EventWire {

    public static final int VERSION = 1;
    /** Largest value accepted, in bytes. */
    public static final int MAX_VALUE_BYTES = 16 * 1024;

    private static final JsonFactory JSON_FACTORY = new JsonFactory();

    private EventWire() {
    }

    /** The record key of a user's events. */
    public static byte[] key(long user) {
        return Long.toString(user).getBytes(StandardCharsets.UTF_8);
    }

    public static byte[] value(StreamEvent event) {
        BehaviorEvent b = event.behavior();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(96);
        try (JsonGenerator g = JSON_FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeNumberField("v", VERSION);
            g.writeNumberField("user", b.user());
            g.writeNumberField("item", b.item());
            g.writeNumberField("category", b.category());
            g.writeStringField("behavior", b.action());
            g.writeNumberField("time", b.time());
            if (!event.context().isEmpty()) {
                g.writeObjectFieldStart("context");
                for (Map.Entry<String, String> c : event.context().entrySet()) {
                    g.writeStringField(c.getKey(), c.getValue());
                }
                g.writeEndObject();
            }
            g.writeEndObject();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write an event", e); // into memory: does not happen
        }
        return out.toByteArray();
    }

    /**
     * Reads a record; anything that is not a valid version-1 event is a {@link MalformedEventException} saying why.
     * A streaming parse (no tree): the topology reads every event through here.
     */
    public static StreamEvent read(byte[] key, byte[] value) throws MalformedEventException {
        if (value == null) {
            throw new MalformedEventException("no value");
        }
        if (value.length > MAX_VALUE_BYTES) {
            throw new MalformedEventException("value of " + value.length + " bytes, over the limit of " + MAX_VALUE_BYTES);
        }
        long v = 0;
        long user = 0;
        long item = 0;
        long category = 0;
        long time = 0;
        String behavior = null;
        Map<String, String> context = Map.of();
        int seen = 0; // bits: v, user, item, category, time
        try (JsonParser p = JSON_FACTORY.createParser(value)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new MalformedEventException("not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                switch (name) {
                    case "v" -> { v = integer(p, t, name); seen |= 1; }
                    case "user" -> { user = integer(p, t, name); seen |= 2; }
                    case "item" -> { item = integer(p, t, name); seen |= 4; }
                    case "category" -> { category = integer(p, t, name); seen |= 8; }
                    case "time" -> { time = integer(p, t, name); seen |= 16; }
                    case "behavior" -> {
                        if (t != JsonToken.VALUE_STRING) {
                            throw new MalformedEventException("'behavior' is not a string");
                        }
                        behavior = p.getText();
                    }
                    case "context" -> context = context(p, t);
                    default -> throw new MalformedEventException("unknown field '" + name + "'");
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
                throw new MalformedEventException("not JSON: trailing content");
            }
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new MalformedEventException("not JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw new MalformedEventException("not JSON: " + e.getMessage());
        }
        String[] names = {"v", "user", "item", "category", "time"};
        for (int i = 0; i < names.length; i++) {
            if ((seen & (1 << i)) == 0) {
                throw new MalformedEventException("'" + names[i] + "' missing");
            }
        }
        if (v != VERSION) {
            throw new MalformedEventException("wire format version " + v + " (this reader knows " + VERSION + ")");
        }
        if (behavior == null) {
            throw new MalformedEventException("'behavior' missing");
        }
        String keyText = key == null ? null : new String(key, StandardCharsets.UTF_8);
        if (!Long.toString(user).equals(keyText)) {
            throw new MalformedEventException("key '" + keyText + "' is not the event's user " + user);
        }
        BehaviorEvent event = new BehaviorEvent(user, item, category, behavior, time);
        try {
            BoundedSequence.check(event, 0);
        } catch (IllegalArgumentException e) {
            throw new MalformedEventException(e.getMessage().replaceFirst("^event 0: ", ""));
        }
        return new StreamEvent(event, context);
    }

    private static Map<String, String> context(JsonParser p, JsonToken t) throws java.io.IOException, MalformedEventException {
        if (t == JsonToken.VALUE_NULL) {
            return Map.of();
        }
        if (t != JsonToken.START_OBJECT) {
            throw new MalformedEventException("'context' is not an object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new MalformedEventException("context '" + name + "' is not a string");
            }
            out.put(name, p.getText());
        }
        return out;
    }

    private static long integer(JsonParser p, JsonToken t, String field) throws java.io.IOException, MalformedEventException {
        if (t != JsonToken.VALUE_NUMBER_INT) {
            throw new MalformedEventException("'" + field + "' is not an integer: " + (t == null ? "nothing" : p.getText()));
        }
        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw new MalformedEventException("'" + field + "' is not an integer: " + p.getText() + " is out of range");
        }
        return p.getLongValue();
    }
}
