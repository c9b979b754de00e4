package dev.attend.index.store;

import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A client-chosen id of a stored resource. Ids that name files (a KV session's folder) are 1 to 128 of
 * {@code [A-Za-z0-9._-]}, not starting with a dot (so never {@code .} or {@code ..} or a hidden file), and stores
 * derive paths from them only through {@link #resolveUnder(Path)}, which checks that the result is a direct child of
 * the store's directory. Ids that are only terms (a document's, in Lucene) take any text of 1 to 512 characters but
 * control characters, lone surrogates and path separators ({@code / \}), and never {@code .} or {@code ..}, so that no
 * id is ever a path, whatever a later store does with it. Users and items are numbers (JSON integers).
 */
public record ResourceId(String kind, String value) {

    public static final int MAX_LENGTH = 128;
    public static final int MAX_DOCUMENT_LENGTH = 512;
    private static final String DOCUMENT = "document";
    private static final Pattern ALLOWED = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");
    /** How much of a refused id an error message repeats. */
    private static final int SHOWN = 40;

    public ResourceId {
        Objects.requireNonNull(kind, "kind");
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException(kind + " id is missing");
        }
        String problem = DOCUMENT.equals(kind) ? termProblem(value) : ALLOWED.matcher(value).matches() ? null
                : "must be 1 to " + MAX_LENGTH + " of [A-Za-z0-9._-] not starting with '.'";
        if (problem != null) {
            throw new IllegalArgumentException(kind + " id " + problem + ", got " + shown(value));
        }
    }

    private static String termProblem(String value) {
        if (value.length() > MAX_DOCUMENT_LENGTH) {
            return "is at most " + MAX_DOCUMENT_LENGTH + " characters";
        }
        if (value.isBlank() || value.equals(".") || value.equals("..")) {
            return "must not be blank, '.' or '..'";
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isISOControl(c) || c == '/' || c == '\\') {
                return "must not hold control characters or path separators";
            }
            if (Character.isHighSurrogate(c) && i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return "must not hold a lone UTF-16 surrogate";
            }
        }
        return null;
    }

    /** A KV session's id (names its folder). */
    public static ResourceId kvSession(String value) {
        return new ResourceId("KV session", value);
    }

    /** True when {@code value} is valid as an id that names a file (a KV session's). */
    public static boolean isValid(String value) {
        return value != null && ALLOWED.matcher(value).matches();
    }

    /** A document's id (a Lucene term). */
    public static ResourceId document(String value) {
        return new ResourceId(DOCUMENT, value);
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
        if (DOCUMENT.equals(kind)) {
            throw new IllegalStateException("document ids are terms, never paths");
        }
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
