package dev.attend.retrieval.search;

/** A document of a corpus: an id (unique in it), a title and a text (either may be empty). */
public record Document(String id, String title, String text) {

    /** What a document's vector and its words are taken from: the title and the text, a line apart. */
    public String content() {
        String t = title == null ? "" : title.strip();
        String w = text == null ? "" : text.strip();
        return t.isEmpty() ? w : w.isEmpty() ? t : t + "\n" + w;
    }
}
