package dev.attend.search;

import java.util.List;

/** Turns text into a unit vector (a sentence encoder). */
public interface TextEmbedder {

    int dim();

    float[] embed(String text);

    /** The vectors of {@code texts}, in order. */
    default List<float[]> embedAll(List<String> texts) {
        return texts.stream().map(this::embed).toList();
    }
}
