package dev.attend.streaming;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BoundedSequence;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The wire format of events on Kafka, version 1. The record key is the user id in decimal (UTF-8): it decides
 * the partition, so that one user's events stay in order on one partition and one instance owns the user. The
 * value is a UTF-8 JSON object:
 *
 * <pre>{"v": 1, "user": 42, "item": 1001, "category": 7, "action": "pv", "time": 1511544070,
 *  "context": {"page": "home"}}</pre>
 *
 * {@code v}, {@code user}, {@code item}, {@code category} (integers), {@code action} (1 to 64 bytes of text; the
 * same name as in the HTTP API, and {@code behavior}, which writers before used, is read as it), {@code time} (seconds
 * since the epoch, >= 0; a time that is plainly milliseconds is refused) are required; {@code context} (string
 * values) is optional; other fields are refused, as is a key that is not the user. A reader of version 1 refuses any
 * other {@code v}.
 */
public final class EventWire {

    public static final int VERSION = 1;
    /** Largest value accepted, in bytes. */
    public static final int MAX_VALUE_BYTES = 16 * 1024;


    private EventWire() {
    }

    /** The record key of a user's events. */
    public static byte[] key(long user) {
        return Long.toString(user).getBytes(StandardCharsets.UTF_8);
    }

    public static byte[] value(StreamEvent event) {
        BehaviorEvent b = event.behavior();
        StringBuilder out = new StringBuilder(128);
        out.append("{\"v\":").append(VERSION).append(",\"user\":").append(b.user()).append(",\"item\":").append(b.item())
                .append(",\"category\":").append(b.category()).append(",\"action\":");
        WireJson.writeString(out, b.action());
        out.append(",\"time\":").append(b.time());
        if (!event.context().isEmpty()) {
            out.append(",\"context\":{");
            boolean first = true;
            for (Map.Entry<String, String> c : event.context().entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                WireJson.writeString(out, c.getKey());
                out.append(':');
                WireJson.writeString(out, c.getValue());
            }
            out.append('}');
        }
        return out.append('}').toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Reads a record; anything that is not a valid version-1 event is a {@link MalformedEventException} saying why.
     * The topology reads every event through here ({@link WireJson}: a parse by hand).
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
        WireJson json = new WireJson(value);
        if (json.beginObject()) {
            do {
                String name = json.fieldName();
                WireJson.Kind kind = json.readValue();
                switch (name) {
                    case "v" -> { v = integer(json, kind, name); seen |= 1; }
                    case "user" -> { user = integer(json, kind, name); seen |= 2; }
                    case "item" -> { item = integer(json, kind, name); seen |= 4; }
                    case "category" -> { category = integer(json, kind, name); seen |= 8; }
                    case "time" -> { time = integer(json, kind, name); seen |= 16; }
                    case "action", "behavior" -> {
                        if (kind != WireJson.Kind.STRING) {
                            throw new MalformedEventException("'" + name + "' is not a string");
                        }
                        if (behavior != null) {
                            throw new MalformedEventException("'action' given twice ('behavior' is its other name)");
                        }
                        behavior = json.text;
                    }
                    case "context" -> {
                        if (kind == WireJson.Kind.OBJECT) {
                            context = json.object;
                        } else if (kind == WireJson.Kind.OTHER && json.object != null && json.text != null) {
                            throw new MalformedEventException("context '" + json.text + "' is not a string");
                        } else if (!(kind == WireJson.Kind.OTHER && "null".equals(json.text))) {
                            throw new MalformedEventException("'context' is not an object");
                        }
                    }
                    default -> throw new MalformedEventException("unknown field '" + name + "'");
                }
            } while (json.nextField());
        }
        json.end();
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
            throw new MalformedEventException("'action' missing");
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

    private static long integer(WireJson json, WireJson.Kind kind, String field) throws MalformedEventException {
        if (kind != WireJson.Kind.INTEGER) {
            throw new MalformedEventException("'" + field + "' is not an integer: " + (kind == WireJson.Kind.OBJECT ? "an object" : json.text));
        }
        return json.integer;
    }
}
