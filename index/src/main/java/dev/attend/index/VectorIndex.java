package dev.attend.index;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A set of vectors with caller-chosen {@code long} ids, searchable for the best {@code k} by a
 * {@link Similarity}.
 *
 * <p>Contract shared by every implementation (the tests hold each to it):
 * <ul>
 *   <li>Bad input gets an {@link IllegalArgumentException} naming the problem and changes nothing:
 *       wrong dimension, NaN or infinity, a duplicate id on add, an unknown id on remove,
 *       {@code k < 1}, {@code budget < 1}. A batch ({@link #addAll}) is checked whole before any of
 *       it is added.
 *   <li>{@code search} on an empty index returns no ids; {@code k > size()} returns {@code size()} ids.
 *   <li>{@code budget} caps the exact distance computations one search may spend (an exact index
 *       spends {@code size()} whatever the budget); {@link SearchStats} reports what was spent.
 *   <li>Any number of threads may search while one thread adds or removes.
 *   <li>{@link #save} is crash-safe: it writes new files, forces them to disk and renames them into
 *       place, so a crash leaves either the old or the new index, never a mix.
 * </ul>
 */
public interface VectorIndex extends AutoCloseable {

    int dim();

    Similarity similarity();

    /** Vectors held (removed ones excluded). */
    int size();

    /** Adds one vector under a new id. */
    default void add(long id, float[] vector) {
        addAll(new long[] {id}, new float[][] {vector});
    }

    /** Adds {@code vectors[i]} under {@code ids[i]}; all or nothing. */
    void addAll(long[] ids, float[][] vectors);

    /** Removes the vector of {@code id}; an id that is not present is an error. */
    void remove(long id);

    /** Whether {@code id} is present. */
    boolean contains(long id);

    /**
     * The best {@code min(k, size())} ids for {@code query}, spending at most {@code budget} distance
     * computations where the index can choose. An approximate index given a budget too small to score
     * k vectors may return fewer ids.
     */
    SearchResult search(float[] query, int k, int budget);

    /** Writes the index to {@code dir} (created if missing), replacing what was there atomically. */
    void save(Path dir) throws IOException;

    /** Bytes of memory the index holds (vectors, graph, buffers), as best it can tell. */
    long memoryBytes();

    @Override
    void close();
}
