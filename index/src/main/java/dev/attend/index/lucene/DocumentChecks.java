package dev.attend.index.lucene;

import static dev.attend.index.lucene.DocumentIndex.MAX_FIELDS;
import static dev.attend.index.lucene.DocumentIndex.MAX_FIELD_VALUES;
import static dev.attend.index.lucene.DocumentIndex.MAX_FIELD_VALUE_CHARS;
import static dev.attend.index.lucene.DocumentIndex.MAX_ID_CHARS;

import dev.attend.index.lucene.DocumentIndex.Entry;
import dev.attend.index.store.ResourceId;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** The argument checks of a {@link DocumentIndex} (ids, vectors, metadata fields), with the messages callers see. */
final class DocumentChecks {

    private static final Pattern FIELD_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private DocumentChecks() {
    }

    static void checkFields(Map<String, List<String>> fields, String what) {
        if (fields.size() > MAX_FIELDS) {
            throw new IllegalArgumentException(what + " names " + fields.size() + " fields, more than " + MAX_FIELDS);
        }
        for (var e : fields.entrySet()) {
            if (e.getKey() == null || !FIELD_NAME.matcher(e.getKey()).matches()) {
                throw new IllegalArgumentException(what + " field name '" + e.getKey() + "' is not 1-64 of A-Z a-z 0-9 _ . -");
            }
            if (e.getValue() == null || e.getValue().size() > MAX_FIELD_VALUES) {
                throw new IllegalArgumentException(what + " field '" + e.getKey() + "' needs 0-" + MAX_FIELD_VALUES + " values");
            }
            for (String v : e.getValue()) {
                if (v == null || v.isEmpty() || v.length() > MAX_FIELD_VALUE_CHARS) {
                    throw new IllegalArgumentException(what + " field '" + e.getKey() + "' has a value that is empty or over "
                            + MAX_FIELD_VALUE_CHARS + " characters");
                }
            }
        }
    }

    /**
     * Refuses a looked-up id no document can have because of its length (missing, blank, over {@value DocumentIndex#MAX_ID_CHARS}
     * characters). Other text is looked up as it is: indexes written before {@link DocumentIndex#checkId} may hold ids with control
     * characters, and a lookup is an exact term query, never a path.
     */
    static void checkLookup(String id) {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("a document id is missing");
        }
        if (id.length() > MAX_ID_CHARS) {
            throw new IllegalArgumentException("a document id is at most " + MAX_ID_CHARS + " characters, got " + id.length() + ": "
                    + ResourceId.shown(id));
        }
    }

    static void check(Entry e, int dim) {
        DocumentIndex.checkId(e.id());
        checkVector(e.vector(), dim, "document " + ResourceId.shown(e.id()) + "'s vector");
        checkFields(e.fields(), "document " + ResourceId.shown(e.id()) + "'s");
    }

    static void checkVector(float[] v, int dim, String what) {
        if (v == null || v.length != dim) {
            throw new IllegalArgumentException(what + " has " + (v == null ? "no" : v.length) + " dimensions, the index " + dim);
        }
        double norm = 0;
        for (float x : v) {
            if (!Float.isFinite(x)) {
                throw new IllegalArgumentException(what + " holds NaN or infinity");
            }
            norm += (double) x * x;
        }
        if (Math.abs(norm - 1) > 1e-3) {
            throw new IllegalArgumentException(what + " is not a unit vector (squared norm " + norm + ")");
        }
    }
}
