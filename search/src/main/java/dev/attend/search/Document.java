package dev.attend.search;

import java.util.List;
import java.util.Map;

/**
 * A document of a corpus: an id (unique in it), a title and a text (either may be empty), and metadata fields
 * (name -> exact values) that searches can filter on.
 */
public record Document(String id, String title, String text, Map<String, List<String>> fields) {

    public Document {
        fields = fields == null ? Map.of() : Map.copyOf(fields);
    }

    public Document(String id, String title, String text) {
        this(id, title, text, Map.of());
    }

    /** What a document's vector and its words are taken from: the title and the text, a line apart. */
    public String content() {
        String t = title == null ? "" : title.strip();
        String w = text == null ? "" : text.strip();
        return t.isEmpty() ? w : w.isEmpty() ? t : t + "\n" + w;
    }
}
