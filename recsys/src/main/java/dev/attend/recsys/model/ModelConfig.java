package dev.attend.recsys.model;

import java.util.Arrays;
import java.util.Objects;

/**
 * The shape of a long-sequence model. One code path serves three kinds:
 * <ul>
 *   <li>{@link Kind#DARE}: separate attention and representation embedding tables (DARE, ICLR 2025); the
 *       attention dimension may be smaller than the representation dimension;</li>
 *   <li>{@link Kind#TWIN}: one table for both (TWIN-like; {@code attentionDim} must equal {@code representationDim});</li>
 *   <li>{@link Kind#DIN}: one table, attention over the whole history (no top-K; DIN-like).</li>
 * </ul>
 * A behaviour's embedding is its item's row concatenated with its category's row; the search scores the
 * target's attention embedding against every behaviour's by scaled dot product, keeps the top {@code topK},
 * and the softmax of their scores weighs their representation embeddings into {@code h}; the MLP reads
 * {@code [e_target, h, e_target * h]} and gives the click logit.
 *
 * @param hidden the MLP's hidden widths (PReLU after each), then one output
 */
public record ModelConfig(Kind kind, int attentionDim, int representationDim, int topK, int[] hidden) {

    public enum Kind { DARE, TWIN, DIN }

    public ModelConfig {
        Objects.requireNonNull(kind, "kind");
        hidden = hidden.clone();
        if (attentionDim < 1 || representationDim < 1 || topK < 1 || hidden.length == 0 || Arrays.stream(hidden).anyMatch(h -> h < 1)) {
            throw new IllegalArgumentException("dimensions, topK and hidden widths must be >= 1");
        }
        if (kind != Kind.DARE && attentionDim != representationDim) {
            throw new IllegalArgumentException(kind + " shares one table: attentionDim (" + attentionDim
                    + ") must equal representationDim (" + representationDim + ")");
        }
    }

    /** DARE with attention dimension 16 and representation dimension 64, top-20, MLP 200-80-1. */
    public static ModelConfig dare() {
        return new ModelConfig(Kind.DARE, 16, 64, 20, new int[] {200, 80});
    }

    @Override
    public int[] hidden() {
        return hidden.clone();
    }

    /** Whether the attention and representation embeddings are one table. */
    public boolean sharedTables() {
        return kind != Kind.DARE;
    }

    /** Whether the search keeps only the top K behaviours. */
    public boolean searches() {
        return kind != Kind.DIN;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ModelConfig c && c.kind == kind && c.attentionDim == attentionDim && c.representationDim == representationDim
                && c.topK == topK && Arrays.equals(c.hidden, hidden);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, attentionDim, representationDim, topK, Arrays.hashCode(hidden));
    }
}
