package dev.attend.search;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The sentence encoder's own word pieces (all-MiniLM-L6-v2's uncased WordPiece vocabulary of 30,522 pieces, read
 * from the tokenizer inside the model's artifact): the token units LexSemBridge builds w(q) from. Pieces are shared
 * by many words ("catalog", "##uing"), so a modulation row learns from every passage that holds the piece, not
 * only from the passages that hold one whole word.
 */
public final class WordPieces {

    private static WordPieces shared;

    private final HuggingFaceTokenizer tokenizer;

    private WordPieces() {
        try (InputStream in = AllMiniLmL6V2EmbeddingModel.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            if (in == null) {
                throw new IllegalStateException("the all-MiniLM-L6-v2 tokenizer is not on the class path");
            }
            tokenizer = HuggingFaceTokenizer.newInstance(in, Map.of("addSpecialTokens", "false", "truncation", "false"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the all-MiniLM-L6-v2 tokenizer", e);
        }
    }

    public static synchronized WordPieces shared() {
        if (shared == null) {
            shared = new WordPieces();
        }
        return shared;
    }

    /** The word pieces of {@code text}, in order (repeats kept). */
    public List<String> pieces(String text) {
        return Arrays.asList(tokenizer.encode(text).getTokens());
    }
}
