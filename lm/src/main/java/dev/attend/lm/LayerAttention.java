package dev.attend.lm;

/**
 * The attention of one decode position at one layer, delegated by {@link ByteLm#decode}: the position's keys and
 * values (one row per KV head, the keys roped) are appended to whatever holds the layer's cache, and the attention
 * output of every query head ({@code queries[h]}, roped, unscaled) over the keys the implementation allows is
 * returned, one row of {@code headDim} per query head. Query head {@code h} reads KV head {@code h / group}.
 * Implementations: {@link ExactAttention} (in Java, the reference), {@link SessionAttention} (an Attend
 * {@code KvSession} in process); a client of {@code attend serve} plugs in the same way.
 */
public interface LayerAttention extends AutoCloseable {

    /**
     * Appends position {@code position}'s {@code keys[kvHead]} and {@code values[kvHead]} to layer {@code layer} and
     * returns the attention output of each query head (including the position itself among the keys).
     */
    float[][] attend(int layer, int position, float[][] keys, float[][] values, float[][] queries);

    /** Releases what the implementation holds (a session, a connection); nothing by default. */
    @Override
    default void close() {
    }
}
