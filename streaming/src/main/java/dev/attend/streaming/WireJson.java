package dev.attend.streaming;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The JSON of the event wire format, read and written by hand: the topology parses every event, and a general
 * parser (Jackson's, even streaming) was a ninth of a stream thread. Reads strict JSON (RFC 8259) of the shapes the
 * format has: an object of integers, strings and one object of strings; any other value is reported by the caller
 * as the wrong type.
 */
final class WireJson {

    /** What {@link #readValue} found: its kind, and the integer or text. */
    public enum Kind { INTEGER, NUMBER, STRING, OBJECT, OTHER }

    private final byte[] in;
    private int at;
    /** The last value read: an integer's value, a string's or other token's text, an object's string fields. */
    public long integer;
    public String text;
    public Map<String, String> object;

    public WireJson(byte[] in) {
        this.in = in;
    }

    /** Reads '{' and returns whether a field follows (false for '{}'). */
    public boolean beginObject() throws MalformedEventException {
        space();
        if (at >= in.length || in[at] != '{') {
            throw new MalformedEventException(at >= in.length ? "not JSON: empty" : "not a JSON object");
        }
        at++;
        space();
        if (at < in.length && in[at] == '}') {
            at++;
            return false;
        }
        return true;
    }

    /** The next field's name, and the ':' after it. */
    public String fieldName() throws MalformedEventException {
        space();
        if (at >= in.length || in[at] != '"') {
            throw syntax("a field name");
        }
        String name = string();
        space();
        if (at >= in.length || in[at++] != ':') {
            throw syntax("':'");
        }
        return name;
    }

    /** After a field's value: true when another field follows (','), false at the object's end ('}'). */
    public boolean nextField() throws MalformedEventException {
        space();
        if (at < in.length && in[at] == ',') {
            at++;
            return true;
        }
        if (at < in.length && in[at] == '}') {
            at++;
            return false;
        }
        throw syntax("',' or '}'");
    }

    /** After the top-level object: nothing but white space. */
    public void end() throws MalformedEventException {
        space();
        if (at != in.length) {
            throw new MalformedEventException("not JSON: trailing content at byte " + at);
        }
    }

    /** Reads one value; an object is read as string fields into {@link #object} (OTHER when a field is no string). */
    public Kind readValue() throws MalformedEventException {
        object = null;
        space();
        if (at >= in.length) {
            throw syntax("a value");
        }
        byte c = in[at];
        if (c == '"') {
            text = string();
            return Kind.STRING;
        }
        if (c == '-' || (c >= '0' && c <= '9')) {
            return number();
        }
        if (c == '{') {
            return stringObject();
        }
        int start = at;
        for (String word : new String[] {"null", "true", "false"}) {
            if (in.length - at >= word.length() && new String(in, at, word.length(), StandardCharsets.US_ASCII).equals(word)) {
                at += word.length();
                text = word;
                return Kind.OTHER;
            }
        }
        if (c == '[') {
            skipArray();
            text = new String(in, start, at - start, StandardCharsets.UTF_8);
            return Kind.OTHER;
        }
        throw syntax("a value");
    }

    private Kind number() throws MalformedEventException {
        int start = at;
        if (in[at] == '-') {
            at++;
        }
        int digits = at;
        while (at < in.length && in[at] >= '0' && in[at] <= '9') {
            at++;
        }
        if (at == digits || (in[digits] == '0' && at - digits > 1)) {
            throw syntax("a number");
        }
        boolean integral = true;
        if (at < in.length && in[at] == '.') {
            integral = false;
            at++;
            int frac = at;
            while (at < in.length && in[at] >= '0' && in[at] <= '9') {
                at++;
            }
            if (at == frac) {
                throw syntax("digits after '.'");
            }
        }
        if (at < in.length && (in[at] == 'e' || in[at] == 'E')) {
            integral = false;
            at++;
            if (at < in.length && (in[at] == '+' || in[at] == '-')) {
                at++;
            }
            int exp = at;
            while (at < in.length && in[at] >= '0' && in[at] <= '9') {
                at++;
            }
            if (at == exp) {
                throw syntax("an exponent");
            }
        }
        text = new String(in, start, at - start, StandardCharsets.US_ASCII);
        if (!integral) {
            return Kind.NUMBER;
        }
        try {
            integer = Long.parseLong(text);
            return Kind.INTEGER;
        } catch (NumberFormatException e) {
            text = text + " is out of range";
            return Kind.NUMBER;
        }
    }

    private Kind stringObject() throws MalformedEventException {
        Map<String, String> out = new LinkedHashMap<>();
        boolean strings = true;
        // the fields' own reads reset object: the map is set once they are read
        String firstBad = null;
        if (beginObject()) {
            do {
                String name = fieldName();
                Kind k = readValue();
                if (k == Kind.STRING) {
                    out.put(name, text);
                } else if (strings) {
                    strings = false;
                    firstBad = name;
                }
            } while (nextField());
        }
        object = out;
        text = firstBad;
        return strings ? Kind.OBJECT : Kind.OTHER;
    }

    private void skipArray() throws MalformedEventException {
        at++; // '['
        space();
        if (at < in.length && in[at] == ']') {
            at++;
            return;
        }
        while (true) {
            readValue();
            space();
            if (at < in.length && in[at] == ',') {
                at++;
            } else if (at < in.length && in[at] == ']') {
                at++;
                return;
            } else {
                throw syntax("',' or ']'");
            }
        }
    }

    /** A string at {@code at} (which holds '"'), unescaped. */
    private String string() throws MalformedEventException {
        int start = ++at;
        while (at < in.length && in[at] != '"' && in[at] != '\\') {
            if ((in[at] & 0xff) < 0x20) {
                throw syntax("no control character in a string");
            }
            at++;
        }
        if (at < in.length && in[at] == '"') {
            return new String(in, start, at++ - start, StandardCharsets.UTF_8); // no escapes: the common case
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.write(in, start, at - start);
        while (true) {
            if (at >= in.length) {
                throw syntax("the end of a string");
            }
            byte c = in[at++];
            if (c == '"') {
                return bytes.toString(StandardCharsets.UTF_8);
            }
            if ((c & 0xff) < 0x20) {
                throw syntax("no control character in a string");
            }
            if (c != '\\') {
                bytes.write(c);
                continue;
            }
            if (at >= in.length) {
                throw syntax("an escape");
            }
            byte e = in[at++];
            switch (e) {
                case '"', '\\', '/' -> bytes.write(e);
                case 'b' -> bytes.write('\b');
                case 'f' -> bytes.write('\f');
                case 'n' -> bytes.write('\n');
                case 'r' -> bytes.write('\r');
                case 't' -> bytes.write('\t');
                case 'u' -> {
                    if (in.length - at < 4) {
                        throw syntax("four hex digits");
                    }
                    int code;
                    try {
                        code = Integer.parseInt(new String(in, at, 4, StandardCharsets.US_ASCII), 16);
                    } catch (NumberFormatException x) {
                        throw syntax("four hex digits");
                    }
                    at += 4;
                    byte[] utf8 = String.valueOf((char) code).getBytes(StandardCharsets.UTF_8);
                    if (Character.isHighSurrogate((char) code) && in.length - at >= 6 && in[at] == '\\' && in[at + 1] == 'u') {
                        try {
                            int low = Integer.parseInt(new String(in, at + 2, 4, StandardCharsets.US_ASCII), 16);
                            utf8 = new String(new char[] {(char) code, (char) low}).getBytes(StandardCharsets.UTF_8);
                            at += 6;
                        } catch (NumberFormatException x) {
                            throw syntax("four hex digits");
                        }
                    }
                    bytes.write(utf8, 0, utf8.length);
                }
                default -> throw syntax("a valid escape");
            }
        }
    }

    private void space() {
        while (at < in.length && (in[at] == ' ' || in[at] == '\t' || in[at] == '\n' || in[at] == '\r')) {
            at++;
        }
    }

    private MalformedEventException syntax(String expected) {
        return new MalformedEventException("not JSON: expected " + expected + " at byte " + at);
    }

    /** Appends {@code s} as a JSON string (quoted, escaped). */
    public static void writeString(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
