package dev.attend.index.store;

import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A client-chosen id of a stored resource (a KV session, a document): 1 to 128 of {@code [A-Za-z0-9._-]}, not
 * starting with a dot (so never {@code .} or {@code ..} or a hidden file). Stores derive paths from it only through
 * {@link #resolveUnder(Path)}, which checks that the result is a direct child of the store's directory.
 */
public record ResourceId(String kind, String value) {

    public static final int MAX_LENGTH = 128;
    private static final Pattern ALLOWED = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");
    /** How much of a refused id an error message repeats. */
    private static final int SHOWN = 40;

    public ResourceId {
        Objects.requireNonNull(kind, "kind");
        if (value == null) {
            throw new IllegalArgumentException(kind + " id is missing");
        }
        if (!ALLOWED.matcher(value).matches()) {
            throw new IllegalArgumentException(kind + " id must be 1 to " + MAX_LENGTH
                    + " of [A-Za-z0-9._-] not starting with '.', got " + shown(value));
        }
    }

    /** A KV session's id. */
    public static ResourceId kvSession(String value) {
        return new ResourceId("KV session", value);
    }

    /** A document's id. */
    public static ResourceId document(String value) {
        return new ResourceId("document", value);
    }

    /** True when {@code value} is a valid id (of any kind). */
    public static boolean isValid(String value) {
        return value != null && ALLOWED.matcher(value).matches();
    }

    /** The id quoted for a message, cut to its first characters when long, control characters escaped. */
    public static String shown(String value) {
        if (value == null) {
            return "null";
        }
        String cut = value.length() > SHOWN ? value.substring(0, SHOWN) : value;
        StringBuilder b = new StringBuilder("'");
        cut.codePoints().forEach(c -> {
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\u%04x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        b.append('\'');
        if (value.length() > SHOWN) {
            b.append(" (").append(value.length()).append(" characters)");
        }
        return b.toString();
    }

    /** {@code root/value}, checked to be a direct child of {@code root} (never root itself or outside it). */
    public Path resolveUnder(Path root) {
        Path base = root.toAbsolutePath().normalize();
        Path p = base.resolve(value).normalize();
        if (!base.equals(p.getParent())) {
            throw new IllegalArgumentException(kind + " id " + shown(value) + " does not name an entry of " + base);
        }
        return p;
    }

    @Override
    public String toString() {
        return value;
    }
}
