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
 * <p>With {@code positionBuckets > 0} a behaviour also has a position-gap embedding, one row per bucket of its
 * distance from the end of the history (0, 1, 2-3, 4-7, ...; the last bucket takes every longer gap), in an
 * attention table (added to its key, so the search can prefer recent behaviours for one target and older ones
 * for another) and a representation table (added to what it contributes), separate in DARE like the others.
 *
 * @param hidden          the MLP's hidden widths (PReLU after each), then one output
 * @param positionBuckets position-gap buckets, 0 for none
 */
public record ModelConfig(Kind kind, int attentionDim, int representationDim, int topK, int[] hidden, int positionBuckets) {

    public enum Kind { DARE, TWIN, DIN }

    public ModelConfig {
        Objects.requireNonNull(kind, "kind");
        hidden = hidden.clone();
        if (attentionDim < 1 || representationDim < 1 || topK < 1 || hidden.length == 0 || Arrays.stream(hidden).anyMatch(h -> h < 1)) {
            throw new IllegalArgumentException("dimensions, topK and hidden widths must be >= 1");
        }
        if (positionBuckets < 0 || positionBuckets > 32) {
            throw new IllegalArgumentException("positionBuckets must be in 0..32, got " + positionBuckets);
        }
        if (kind != Kind.DARE && attentionDim != representationDim) {
            throw new IllegalArgumentException(kind + " shares one table: attentionDim (" + attentionDim
                    + ") must equal representationDim (" + representationDim + ")");
        }
    }

    /** Without position-gap embeddings. */
    public ModelConfig(Kind kind, int attentionDim, int representationDim, int topK, int[] hidden) {
        this(kind, attentionDim, representationDim, topK, hidden, 0);
    }

    /** The same model with {@code buckets} position-gap buckets. */
    public ModelConfig withPositionBuckets(int buckets) {
        return new ModelConfig(kind, attentionDim, representationDim, topK, hidden, buckets);
    }

    /**
     * Buckets enough to tell apart every gap of a history of {@code historyLength} (the training histories): the last
     * one holds the oldest of them, and at serving time everything older (gaps never trained on share it).
     */
    public static int positionBucketsFor(int historyLength) {
        if (historyLength < 1) {
            throw new IllegalArgumentException("historyLength must be >= 1, got " + historyLength);
        }
        return 33 - Integer.numberOfLeadingZeros(historyLength - 1);
    }

    /**
     * The bucket of a behaviour {@code gap} places before the end of its history (0 for the latest):
     * 0, 1, 2-3, 4-7, ..., capped at the last bucket.
     */
    public int positionBucket(int gap) {
        return Math.min(positionBuckets - 1, 32 - Integer.numberOfLeadingZeros(gap));
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
                && c.topK == topK && Arrays.equals(c.hidden, hidden) && c.positionBuckets == positionBuckets;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, attentionDim, representationDim, topK, Arrays.hashCode(hidden), positionBuckets);
    }
}
