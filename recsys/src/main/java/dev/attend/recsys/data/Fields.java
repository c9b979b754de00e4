package dev.attend.recsys.data;

import java.util.ArrayList;
import java.util.List;

/** Parsing of the importers' fields. */
final class Fields {

    private Fields() {
    }

    /** A non-negative integer, or -1 when {@code s} is not one. */
    static long id(String s) {
        String t = s.strip();
        if (t.isEmpty() || t.length() > 18) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }

    /**
     * The fields of one CSV line (RFC 4180: fields may be quoted, quotes inside doubled), or null when a quote is
     * left open.
     */
    static String[] csv(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                out.add(field.toString());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        if (quoted) {
            return null;
        }
        out.add(field.toString());
        return out.toArray(new String[0]);
    }
}
