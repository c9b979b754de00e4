package dev.attend.gpu;

import java.util.Arrays;

/**
 * Append-only rows of {@code dim} components, kept in float32 or float16 pages of {@link #PAGE_ROWS}
 * rows. Pages keep every array far below the 2^31 element limit, so a store can hold 10^7 x 256
 * components, and appending never copies the rows already stored.
 *
 * <p>One writer may append while any number of readers score: a row becomes visible to readers once
 * {@link #size()} covers it.
 */
public final class VectorStore {

    /** Rows per page (a power of two). */
    public static final int PAGE_ROWS = 1 << 14;
    static final int PAGE_SHIFT = 14;

    private final int dim;
    private final Precision precision;
    private volatile Object[] pages = new Object[0];
    private volatile int size;

    public VectorStore(int dim, Precision precision) {
        if (dim <= 0) {
            throw new IllegalArgumentException("dimension must be positive, got " + dim);
        }
        this.dim = dim;
        this.precision = java.util.Objects.requireNonNull(precision, "precision");
    }

    /** A float32 store holding {@code rows} (row-major, {@code rows.length} a multiple of {@code dim}). */
    public static VectorStore of(int dim, float[] rows) {
        VectorStore store = new VectorStore(dim, Precision.FLOAT32);
        store.appendRows(rows, 0, rows.length / dim);
        return store;
    }

    public int dim() {
        return dim;
    }

    public Precision precision() {
        return precision;
    }

    /** Number of rows visible to readers. */
    public int size() {
        return size;
    }

    /** Bytes held by the pages (capacity, not only the rows in use). */
    public long bytes() {
        return (long) pages.length * PAGE_ROWS * dim * precision.bytes();
    }

    /** Appends one row and returns its id. */
    public synchronized int append(float[] row) {
        VectorChecks.checkVector("row", row, dim);
        return appendRows(row, 0, 1);
    }

    /**
     * Appends {@code count} rows read row-major from {@code rows} at {@code offset} (in components)
     * and returns the id of the first. Nothing is appended when any value is rejected.
     */
    public synchronized int appendRows(float[] rows, int offset, int count) {
        if (count < 0 || offset < 0 || (long) offset + (long) count * dim > rows.length) {
            throw new IllegalArgumentException("rows array of length " + rows.length + " does not hold " + count
                    + " rows of dimension " + dim + " at offset " + offset);
        }
        if ((long) size + count > Integer.MAX_VALUE - PAGE_ROWS) {
            throw new IllegalArgumentException("store would exceed " + (Integer.MAX_VALUE - PAGE_ROWS) + " rows");
        }
        for (int r = 0; r < count; r++) {
            int base = offset + r * dim;
            for (int c = 0; c < dim; c++) {
                float v = rows[base + c];
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("row " + r + " holds " + v + " at component " + c
                            + ": only finite values are accepted");
                }
                if (precision == Precision.FLOAT16 && Float.isInfinite(Float.float16ToFloat(Float.floatToFloat16(v)))) {
                    throw new IllegalArgumentException("row " + r + " component " + c + " = " + v
                            + " is outside the float16 range (|x| <= 65504)");
                }
            }
        }
        int first = size;
        ensureCapacity(first + count);
        Object[] p = pages;
        for (int r = 0; r < count; r++) {
            int id = first + r;
            int page = id >>> PAGE_SHIFT;
            int at = (id & (PAGE_ROWS - 1)) * dim;
            int src = offset + r * dim;
            if (precision == Precision.FLOAT32) {
                System.arraycopy(rows, src, (float[]) p[page], at, dim);
            } else {
                short[] dst = (short[]) p[page];
                for (int c = 0; c < dim; c++) {
                    dst[at + c] = Float.floatToFloat16(rows[src + c]);
                }
            }
        }
        size = first + count;
        return first;
    }

    private void ensureCapacity(int rows) {
        int needed = (rows + PAGE_ROWS - 1) >>> PAGE_SHIFT;
        if (needed <= pages.length) {
            return;
        }
        Object[] grown = Arrays.copyOf(pages, needed);
        for (int i = pages.length; i < needed; i++) {
            grown[i] = precision == Precision.FLOAT32 ? new float[PAGE_ROWS * dim] : new short[PAGE_ROWS * dim];
        }
        pages = grown;
    }

    /** Copies row {@code id} into {@code dst} as float32. */
    public void readRow(int id, float[] dst) {
        if (id < 0 || id >= size) {
            throw new IllegalArgumentException("row " + id + " is not in [0, " + size + ")");
        }
        Object page = pages[id >>> PAGE_SHIFT];
        int at = (id & (PAGE_ROWS - 1)) * dim;
        if (page instanceof float[] f) {
            System.arraycopy(f, at, dst, 0, dim);
        } else {
            short[] h = (short[]) page;
            for (int c = 0; c < dim; c++) {
                dst[c] = Float.float16ToFloat(h[at + c]);
            }
        }
    }

    /** Row {@code id} as a new float32 array. */
    public float[] row(int id) {
        float[] out = new float[dim];
        readRow(id, out);
        return out;
    }

    /**
     * {@code query . row(id)} computed in place with the Vector API (no copy of the row): the single
     * distance computation of graph searches.
     */
    public float dot(int id, float[] query) {
        if (query.length != dim) {
            throw new IllegalArgumentException("query has dimension " + query.length + ", expected " + dim);
        }
        if (id < 0 || id >= size) {
            throw new IllegalArgumentException("row " + id + " is not in [0, " + size + ")");
        }
        Object page = pages[id >>> PAGE_SHIFT];
        int at = (id & (PAGE_ROWS - 1)) * dim;
        if (page instanceof float[] f) {
            return SimdScorer.dot(query, f, at, dim);
        }
        float[] row = new float[dim];
        SimdScorer.widen((short[]) page, at, row, dim);
        return SimdScorer.dot(query, row, 0, dim);
    }

    /** The float32 page holding rows {@code [page * PAGE_ROWS, ...)}; for scorers. */
    float[] float32Page(int page) {
        return (float[]) pages[page];
    }

    /** The float16 page holding rows {@code [page * PAGE_ROWS, ...)}; for scorers. */
    short[] float16Page(int page) {
        return (short[]) pages[page];
    }

    @Override
    public String toString() {
        return "VectorStore[" + size + " x " + dim + " " + precision + "]";
    }
}
