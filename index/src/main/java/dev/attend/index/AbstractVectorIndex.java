package dev.attend.index;

import java.util.Objects;
import java.util.Properties;

/**
 * The part of the {@link VectorIndex} contract every implementation shares, written once: the dimension and
 * similarity (and their {@link SimilarityEncoding}), the argument checks of {@link #addAll}, {@link #remove} and
 * {@link #search} with their messages, and the closed state.
 *
 * <p>A subclass calls {@link #AbstractVectorIndex(int, Similarity)} and implements {@link #size()},
 * {@link #contains}, {@link #addChecked}, {@link #removeChecked}, {@link #searchChecked}, {@link #save},
 * {@link #memoryBytes} and {@link #close}. It may override {@link #storedForm} (the form of a vector it keeps; by
 * default the full {@link SimilarityEncoding}). An index that can be closed calls {@link #markClosed} in
 * {@link #close} and {@link #ensureOpen} in its own public methods; the templates here call
 * {@link #ensureOpen} already. Writes run under the index's monitor ({@code synchronized} on {@code this}).
 */
public abstract class AbstractVectorIndex implements VectorIndex {

    private final SimilarityEncoding encoding;
    private volatile boolean closed;

    /** Checks {@code dim >= 1} and a similarity, before the subclass builds anything. */
    protected AbstractVectorIndex(int dim, Similarity similarity) {
        VectorChecks.checkDimension(dim);
        this.encoding = new SimilarityEncoding(Objects.requireNonNull(similarity, "similarity"), dim);
    }

    @Override
    public final int dim() {
        return encoding.dim();
    }

    @Override
    public final Similarity similarity() {
        return encoding.similarity();
    }

    protected final SimilarityEncoding encoding() {
        return encoding;
    }

    /**
     * Checks the batch whole (shapes, finiteness, ids unique in the batch and new to the index, each vector's
     * {@link #storedForm} form), then hands it to {@link #addChecked}: a batch that fails any check adds nothing.
     */
    @Override
    public final synchronized void addAll(long[] ids, float[][] vectors) {
        ensureOpen();
        VectorChecks.checkBatch(ids, vectors, dim());
        float[][] stored = new float[ids.length][];
        for (int i = 0; i < ids.length; i++) {
            if (contains(ids[i])) {
                throw new IllegalArgumentException("id " + ids[i] + " is already in the index");
            }
            stored[i] = storedForm(vectors[i]);
        }
        addChecked(ids, stored);
    }

    /**
     * The form in which this index keeps {@code vector} (checked for dimension and finiteness, never the
     * caller's array): the full encoding unless overridden. It may refuse a vector (a zero vector for cosine).
     */
    protected float[] storedForm(float[] vector) {
        return encoding.encodeVector(vector);
    }

    /** For an index whose own distance handles dot product and Euclidean: unit vectors for cosine, else a copy. */
    protected final float[] unitIfCosine(float[] vector) {
        return similarity() == Similarity.COSINE ? encoding.encodeVector(vector) : vector.clone();
    }

    /** The query for such an index: unit for cosine, else as given. */
    protected final float[] unitQueryIfCosine(float[] query) {
        return similarity() == Similarity.COSINE ? encoding.encodeQuery(query) : query;
    }

    /**
     * Adds a batch that passed every check: ids new and distinct, {@code stored[i]} the {@link #storedForm} form of
     * vector i (the index may keep the arrays). Called under the index's monitor.
     */
    protected abstract void addChecked(long[] ids, float[][] stored);

    @Override
    public final synchronized void remove(long id) {
        ensureOpen();
        if (!contains(id)) {
            throw new IllegalArgumentException("id " + id + " is not in the index");
        }
        removeChecked(id);
    }

    /** Removes {@code id}, which is present. Called under the index's monitor. */
    protected abstract void removeChecked(long id);

    @Override
    public final SearchResult search(float[] query, int k, int budget) {
        VectorChecks.checkSearch(query, dim(), k, budget);
        ensureOpen();
        return searchChecked(query, k, budget);
    }

    /** {@link #search} once the query, {@code k} and {@code budget} passed their checks. Not under the monitor. */
    protected abstract SearchResult searchChecked(float[] query, int k, int budget);

    /** The metadata every saved index starts with: its dimension and similarity. */
    protected final Properties newMeta() {
        Properties meta = new Properties();
        meta.setProperty("dim", Integer.toString(dim()));
        meta.setProperty("similarity", similarity().name());
        return meta;
    }

    protected final void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the index is closed");
        }
    }

    /** Marks the index closed; whether it was open (so that a second {@link #close} does nothing). */
    protected final boolean markClosed() {
        boolean wasOpen = !closed;
        closed = true;
        return wasOpen;
    }
}
