package dev.attend.gpu;

import java.util.Arrays;
import java.util.Objects;

/**
 * Append-only rows of {@code dim} components, kept in float32 or float16 pages of about 4 MiB.
 * Pages keep every array far below the 2^31 element limit, so a store can hold 10^7 x 256
 * components, and appending never copies the rows already stored. A page with its array header is
 * exactly 4 MiB: G1 then never rounds it up to extra regions (a page of a power of two bytes plus a
 * header took twice its size as a humongous object).
 *
 * <p>One writer may append while any number of readers score: a row becomes visible to readers once
 * {@link #size()} covers it.
 */
public final class VectorStore {

    /** A convenient number of rows to generate or copy at a time (not tied to the page size). */
    public static final int CHUNK_ROWS = 1 << 14;
    /** The smallest magnitude that float16 rounds to infinity (half-way between 65504 and 2^16, ties to even). */
    private static final float FLOAT16_OVERFLOW = 65520f;
    /** Bytes of a page including its 16-byte array header. */
    private static final int PAGE_BYTES = 1 << 22;

    private final int dim;
    private final Precision precision;
    private final int pageRows;
    private volatile Object[] pages = new Object[0];
    private volatile int size;

    public VectorStore(int dim, Precision precision) {
        if (dim <= 0) {
            throw new IllegalArgumentException("dimension must be positive, got " + dim);
        }
        this.dim = dim;
        this.precision = Objects.requireNonNull(precision, "precision");
        this.pageRows = Math.max(1, (PAGE_BYTES - 16) / precision.bytes() / dim);
    }

    /** Rows per page. */
    public int pageRows() {
        return pageRows;
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
        long elements = 0;
        for (Object page : pages) {
            elements += length(page);
        }
        return elements * precision.bytes();
    }

    /** Appends one row and returns its id. */
    public synchronized int append(float[] row) {
        if (row == null || row.length != dim) {
            VectorChecks.checkVector("row", row, dim); // says what is wrong; appendRows checks the values
        }
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
        if ((long) size + count > Integer.MAX_VALUE - pageRows) {
            throw new IllegalArgumentException("store would exceed " + (Integer.MAX_VALUE - pageRows) + " rows");
        }
        // Float16 keeps what rounds below 65520 (to at most 65504); larger rounds to infinity.
        float limit = precision == Precision.FLOAT16 ? FLOAT16_OVERFLOW : Float.POSITIVE_INFINITY;
        for (int r = 0; r < count; r++) {
            int base = offset + r * dim;
            if (VectorMath.maxAbs(rows, base, dim) < limit) {
                continue; // finite and in range: NaN fails the comparison
            }
            for (int c = 0; c < dim; c++) {
                float v = rows[base + c];
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("row " + r + " holds " + v + " at component " + c
                            + ": only finite values are accepted");
                }
                if (!(Math.abs(v) < limit)) {
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
            int page = id / pageRows;
            int at = (id - page * pageRows) * dim;
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

    /**
     * Room for {@code rows}: every page but the last holds {@link #pageRows} rows; the last grows by doubling up to
     * that (copied: a reader holding the old array still finds every row it saw), so a short store, such as one
     * user's history, takes bytes in proportion to its rows rather than a whole page of 4 MiB.
     */
    private void ensureCapacity(int rows) {
        Object[] p = pages;
        int full = p.length == 0 ? 0 : (p.length - 1) * pageRows + length(p[p.length - 1]) / dim;
        if (rows <= full) {
            return;
        }
        int needed = (int) (((long) rows + pageRows - 1) / pageRows);
        Object[] grown = Arrays.copyOf(p, needed);
        for (int i = Math.max(0, p.length - 1); i < needed; i++) {
            int want = i < needed - 1 ? pageRows : Math.max(rows - i * pageRows, Math.min(pageRows, 2 * (i < p.length ? length(p[i]) / dim : 0)));
            int have = i < p.length ? length(p[i]) / dim : 0;
            if (want > have) {
                grown[i] = precision == Precision.FLOAT32 ? Arrays.copyOf(i < p.length ? (float[]) p[i] : new float[0], want * dim)
                        : Arrays.copyOf(i < p.length ? (short[]) p[i] : new short[0], want * dim);
            }
        }
        pages = grown;
    }

    private static int length(Object page) {
        return page instanceof float[] f ? f.length : ((short[]) page).length;
    }

    /** Copies row {@code id} into {@code dst} as float32. */
    public void readRow(int id, float[] dst) {
        readRow(id, dst, 0);
    }

    /** Copies row {@code id} into {@code dst[offset, offset + dim)} as float32. */
    public void readRow(int id, float[] dst, int offset) {
        if (id < 0 || id >= size) {
            throw new IllegalArgumentException("row " + id + " is not in [0, " + size + ")");
        }
        int p = id / pageRows;
        Object page = pages[p];
        int at = (id - p * pageRows) * dim;
        if (page instanceof float[] f) {
            System.arraycopy(f, at, dst, offset, dim);
        } else {
            VectorMath.widenHalves((short[]) page, at, dst, offset, dim);
        }
    }

    /**
     * Rows {@code base + ids[i]} for {@code i < count} into {@code dst}, row i at {@code i * dim}, as float32: every row's
     * cache lines are touched first, then the rows are copied. Read one after the other, a row that misses holds up
     * the next (a float16 row of 128 components is some 30 instructions to widen); touched first, the misses of a
     * whole batch are in flight together (about half the time per row for a pruned list's 184: bench/RESULTS.md).
     */
    public void readRows(int[] ids, int count, int base, float[] dst) {
        touch(ids, count, base);
        for (int i = 0; i < count; i++) {
            readRow(base + ids[i], dst, i * dim);
        }
    }

    /** Row {@code id} as a new float32 array. */
    public float[] row(int id) {
        float[] out = new float[dim];
        readRow(id, out);
        return out;
    }

    /**
     * {@code query . row(id)} by {@link VectorMath#dot}, in place for float32 rows (no copy of the row): the single
     * distance computation of graph searches.
     */
    public float dot(int id, float[] query) {
        return dot(id, query, null);
    }

    /** The same, widening a float16 row into {@code scratch} (of {@link #dim()} floats; allocated when null). */
    public float dot(int id, float[] query, float[] scratch) {
        if (query.length != dim) {
            throw new IllegalArgumentException("query has dimension " + query.length + ", expected " + dim);
        }
        if (id < 0 || id >= size) {
            throw new IllegalArgumentException("row " + id + " is not in [0, " + size + ")");
        }
        return dotChecked(id, query, scratch);
    }

    /** {@link #dot} of a row and a query already checked. */
    private float dotChecked(int id, float[] query, float[] scratch) {
        int p = id / pageRows;
        Object page = pages[p];
        int at = (id - p * pageRows) * dim;
        if (page instanceof float[] f) {
            return VectorMath.dot(query, 0, f, at, dim);
        }
        float[] row = scratch != null ? scratch : new float[dim];
        VectorMath.widenHalves((short[]) page, at, row, 0, dim);
        return VectorMath.dot(query, 0, row, 0, dim);
    }

    /**
     * {@code out[i] = query . row(base + ids[i])} for {@code i < count}, the same values as {@link #dot} one at a time.
     * Every row's cache lines are touched before the first product (as {@link #readRows} does): a row widened and
     * multiplied is some hundred instructions, so the processor's window holds two or three rows' misses when each is
     * read where it is scored, and a whole batch's when they are touched first (bench/RESULTS.md).
     */
    public void dots(int[] ids, int count, int base, float[] query, float[] scratch, float[] out) {
        if (query.length != dim) {
            throw new IllegalArgumentException("query has dimension " + query.length + ", expected " + dim);
        }
        touch(ids, count, base); // checks every id
        for (int i = 0; i < count; i++) {
            out[i] = dotChecked(base + ids[i], query, scratch);
        }
    }

    /**
     * Loads one value of every cache line of rows {@code base + ids[i]}, {@code i < count}, checking each id: their
     * misses in flight together before rows scattered over the store are read one by one.
     */
    void touch(int[] ids, int count, int base) {
        Object[] p = pages;
        int n = size;
        int sum = 0;
        int stride = 64 / precision.bytes(); // components per cache line
        for (int i = 0; i < count; i++) {
            int id = base + ids[i];
            if (id < 0 || id >= n) {
                throw new IllegalArgumentException("row " + id + " is not in [0, " + n + ")");
            }
            int page = id / pageRows;
            int at = (id - page * pageRows) * dim;
            if (p[page] instanceof short[] h) {
                for (int c = 0; c < dim; c += stride) {
                    sum += h[at + c];
                }
            } else {
                float[] f = (float[]) p[page];
                for (int c = 0; c < dim; c += stride) {
                    sum += Float.floatToRawIntBits(f[at + c]);
                }
            }
        }
        if (sum == Integer.MIN_VALUE) {
            Thread.onSpinWait(); // the loads feed a branch, so the compiler keeps them (no shared write)
        }
    }

    /** The float32 page holding rows {@code [page * pageRows(), ...)}; for scorers. */
    float[] float32Page(int page) {
        return (float[]) pages[page];
    }

    /** The float16 page holding rows {@code [page * pageRows(), ...)}; for scorers. */
    short[] float16Page(int page) {
        return (short[]) pages[page];
    }

    @Override
    public String toString() {
        return "VectorStore[" + size + " x " + dim + " " + precision + "]";
    }
}
