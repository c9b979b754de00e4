package dev.attend.lm;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON reader for the model's small files ({@code config.json}, {@code reference.json}): objects become
 * {@link LinkedHashMap}s, arrays {@link List}s, numbers {@link Double}s, plus strings, booleans and null. No
 * third-party parser is needed for these.
 */
final class MiniJson {

    private final String text;
    private int at;

    private MiniJson(String text) {
        this.text = text;
    }

    /** The value {@code text} holds; an {@link IllegalArgumentException} says where it is not JSON. */
    static Object parse(String text) {
        MiniJson p = new MiniJson(text);
        p.blanks();
        Object v = p.value(0);
        p.blanks();
        if (p.at != text.length()) {
            throw p.error("text after the value");
        }
        return v;
    }

    private Object value(int depth) {
        if (depth > 64) {
            throw error("nesting deeper than 64");
        }
        if (at >= text.length()) {
            throw error("the text ends where a value was expected");
        }
        char c = text.charAt(at);
        switch (c) {
            case '{' -> {
                at++;
                Map<String, Object> m = new LinkedHashMap<>();
                blanks();
                if (peek('}')) {
                    at++;
                    return m;
                }
                while (true) {
                    blanks();
                    if (!peek('"')) {
                        throw error("a key (a string) was expected");
                    }
                    String k = string();
                    blanks();
                    expect(':');
                    blanks();
                    if (m.put(k, value(depth + 1)) != null) {
                        throw error("duplicate key '" + k + "'");
                    }
                    blanks();
                    if (peek(',')) {
                        at++;
                        continue;
                    }
                    expect('}');
                    return m;
                }
            }
            case '[' -> {
                at++;
                List<Object> l = new ArrayList<>();
                blanks();
                if (peek(']')) {
                    at++;
                    return l;
                }
                while (true) {
                    blanks();
                    l.add(value(depth + 1));
                    blanks();
                    if (peek(',')) {
                        at++;
                        continue;
                    }
                    expect(']');
                    return l;
                }
            }
            case '"' -> {
                return string();
            }
            default -> {
                if (text.startsWith("true", at)) {
                    at += 4;
                    return Boolean.TRUE;
                }
                if (text.startsWith("false", at)) {
                    at += 5;
                    return Boolean.FALSE;
                }
                if (text.startsWith("null", at)) {
                    at += 4;
                    return null;
                }
                int start = at;
                while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
                    at++;
                }
                if (start == at) {
                    throw error("unexpected character '" + c + "'");
                }
                try {
                    return Double.parseDouble(text.substring(start, at));
                } catch (NumberFormatException e) {
                    throw error("'" + text.substring(start, at) + "' is not a number");
                }
            }
        }
    }

    private String string() {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (true) {
            if (at >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(at++);
            if (c == '"') {
                return b.toString();
            }
            if (c == '\\') {
                if (at >= text.length()) {
                    throw error("unterminated escape");
                }
                char e = text.charAt(at++);
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (at + 4 > text.length()) {
                            throw error("short \\u escape");
                        }
                        b.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                        at += 4;
                    }
                    default -> throw error("bad escape \\" + e);
                }
            } else {
                b.append(c);
            }
        }
    }

    private boolean peek(char c) {
        return at < text.length() && text.charAt(at) == c;
    }

    private void expect(char c) {
        if (!peek(c)) {
            throw error("'" + c + "' was expected");
        }
        at++;
    }

    private void blanks() {
        while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
            at++;
        }
    }

    private IllegalArgumentException error(String what) {
        int line = 1;
        for (int i = 0; i < Math.min(at, text.length()); i++) {
            line += text.charAt(i) == '\n' ? 1 : 0;
        }
        return new IllegalArgumentException(what + " (line " + line + ", character " + at + ")");
    }
}
