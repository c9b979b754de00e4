package dev.attend.bench;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Map;

/**
 * The benches' JSON reports, written by hand rather than with the server's Jackson mapper: the scorer and index
 * harnesses run on GPU machines with a reduced class path that has no Jackson, and every report keeps its numbers to
 * six significant digits. Values are {@link String}, {@link Boolean}, integral and floating {@link Number}s, nested
 * {@link Map}s and {@link Iterable}s; non-finite numbers are written as {@code null}. Reports are read back with the
 * server's mapper ({@link PlotCommand}).
 */
final class JsonWriter {

    private JsonWriter() {
    }

    /** {@code value} as JSON, maps as objects in their iteration order, indented by {@code indent}. */
    static String write(Object value, int indent) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, indent, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object value, int indent, int depth) {
        switch (value) {
            case null -> sb.append("null");
            case String s -> string(sb, s);
            case Boolean b -> sb.append(b);
            case Integer i -> sb.append(i);
            case Long l -> sb.append(l);
            case Number n -> sb.append(number(n.doubleValue()));
            case Map<?, ?> map -> {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    sb.append(first ? "" : ",");
                    first = false;
                    newline(sb, indent, depth + 1);
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(indent > 0 ? ": " : ":");
                    write(sb, e.getValue(), indent, depth + 1);
                }
                if (!first) {
                    newline(sb, indent, depth);
                }
                sb.append('}');
            }
            case Iterable<?> list -> {
                sb.append('[');
                boolean first = true;
                for (Object o : list) {
                    sb.append(first ? "" : ",");
                    first = false;
                    newline(sb, indent, depth + 1);
                    write(sb, o, indent, depth + 1);
                }
                if (!first) {
                    newline(sb, indent, depth);
                }
                sb.append(']');
            }
            default -> string(sb, value.toString());
        }
    }

    /** Six significant digits, no exponent for ordinary magnitudes, no trailing zeros. */
    static String number(double v) {
        if (!Double.isFinite(v)) {
            return "null";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        BigDecimal d = new BigDecimal(v).round(new MathContext(6)).stripTrailingZeros();
        return Math.abs(v) >= 1e-6 && Math.abs(v) < 1e15 ? d.toPlainString() : d.toString();
    }

    private static void newline(StringBuilder sb, int indent, int depth) {
        if (indent > 0) {
            sb.append('\n').append(" ".repeat(indent * depth));
        }
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
