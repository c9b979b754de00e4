package dev.attend.search;

import dev.attend.gpu.VectorMath;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import java.util.List;

/**
 * all-MiniLM-L6-v2 (384 dimensions, unit vectors) run in this process through ONNX Runtime: the model and its
 * tokenizer come inside a Maven artifact, nothing is downloaded. Loading takes a second or two; one instance
 * serves any number of threads. Texts longer than the model's 256 word pieces are split and their vectors
 * averaged (by the library). The model loads on the first text to embed.
 */
public final class MiniLmEmbedder implements TextEmbedder {

    public static final int DIM = 384;
    private static MiniLmEmbedder shared;

    private volatile AllMiniLmL6V2EmbeddingModel model;

    private MiniLmEmbedder() {
    }

    /** The model, loaded on the first text to embed (a server that never embeds does not pay for it). */
    private AllMiniLmL6V2EmbeddingModel model() {
        AllMiniLmL6V2EmbeddingModel m = model;
        if (m == null) {
            synchronized (this) {
                m = model;
                if (m == null) {
                    model = m = new AllMiniLmL6V2EmbeddingModel();
                }
            }
        }
        return m;
    }

    /** The process's one instance (its model loaded on first use). */
    public static synchronized MiniLmEmbedder shared() {
        if (shared == null) {
            shared = new MiniLmEmbedder();
        }
        return shared;
    }

    @Override
    public int dim() {
        return DIM;
    }

    @Override
    public float[] embed(String text) {
        return unit(model().embed(nonBlank(text)).content().vector());
    }

    @Override
    public List<float[]> embedAll(List<String> texts) {
        List<TextSegment> segments = texts.stream().map(t -> TextSegment.from(nonBlank(t))).toList();
        return model().embedAll(segments).content().stream().map(e -> unit(e.vector())).toList();
    }

    /** The encoder refuses blank text; a blank document or query is encoded as "." (a vector like any other). */
    private static String nonBlank(String text) {
        return text == null || text.isBlank() ? "." : text;
    }

    /** Normalised again in float: the library's vectors are unit up to rounding that Lucene's dot product notices. */
    private static float[] unit(float[] v) {
        double n = VectorMath.dotOrdered(v, 0, v, 0, v.length);
        float inv = (float) (1 / Math.sqrt(n));
        for (int i = 0; i < v.length; i++) {
            v[i] *= inv;
        }
        return v;
    }
}
