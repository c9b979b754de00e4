package dev.attend.streaming;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BoundedSequence;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

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

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> FIELDS = Set.of("v", "user", "item", "category", "behavior", "time", "context");

    private EventWire() {
    }

    /** The record key of a user's events. */
    public static byte[] key(long user) {
        return Long.toString(user).getBytes(StandardCharsets.UTF_8);
    }

    public static byte[] value(StreamEvent event) {
        BehaviorEvent b = event.behavior();
        ObjectNode o = JSON.createObjectNode();
        o.put("v", VERSION).put("user", b.user()).put("item", b.item()).put("category", b.category()).put("behavior", b.action())
                .put("time", b.time());
        if (!event.context().isEmpty()) {
            ObjectNode c = o.putObject("context");
            event.context().forEach(c::put);
        }
        try {
            return JSON.writeValueAsBytes(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write an event", e); // a tree of strings and numbers always writes
        }
    }

    /** Reads a record; anything that is not a valid version-1 event is a {@link MalformedEventException} saying why. */
    public static StreamEvent read(byte[] key, byte[] value) throws MalformedEventException {
        if (value == null) {
            throw new MalformedEventException("no value");
        }
        if (value.length > MAX_VALUE_BYTES) {
            throw new MalformedEventException("value of " + value.length + " bytes, over the limit of " + MAX_VALUE_BYTES);
        }
        JsonNode o;
        try {
            o = JSON.readTree(value);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new MalformedEventException("not JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw new MalformedEventException("not JSON: " + e.getMessage());
        }
        if (o == null || !o.isObject()) {
            throw new MalformedEventException("not a JSON object");
        }
        for (Iterator<String> names = o.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw new MalformedEventException("unknown field '" + name + "'");
            }
        }
        long v = integer(o, "v");
        if (v != VERSION) {
            throw new MalformedEventException("wire format version " + v + " (this reader knows " + VERSION + ")");
        }
        long user = integer(o, "user");
        String keyText = key == null ? null : new String(key, StandardCharsets.UTF_8);
        if (!Long.toString(user).equals(keyText)) {
            throw new MalformedEventException("key '" + keyText + "' is not the event's user " + user);
        }
        JsonNode behavior = o.get("behavior");
        if (behavior == null || !behavior.isTextual()) {
            throw new MalformedEventException("'behavior' missing or not a string");
        }
        BehaviorEvent event = new BehaviorEvent(user, integer(o, "item"), integer(o, "category"), behavior.textValue(), integer(o, "time"));
        try {
            BoundedSequence.check(event, 0);
        } catch (IllegalArgumentException e) {
            throw new MalformedEventException(e.getMessage().replaceFirst("^event 0: ", ""));
        }
        Map<String, String> context = new LinkedHashMap<>();
        JsonNode c = o.get("context");
        if (c != null && !c.isNull()) {
            if (!c.isObject()) {
                throw new MalformedEventException("'context' is not an object");
            }
            for (var it = c.fields(); it.hasNext(); ) {
                var f = it.next();
                if (!f.getValue().isTextual()) {
                    throw new MalformedEventException("context '" + f.getKey() + "' is not a string");
                }
                context.put(f.getKey(), f.getValue().textValue());
            }
        }
        return new StreamEvent(event, context);
    }

    private static long integer(JsonNode o, String field) throws MalformedEventException {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            throw new MalformedEventException("'" + field + "' missing");
        }
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw new MalformedEventException("'" + field + "' is not an integer: " + n);
        }
        return n.longValue();
    }
}
