package dev.attend.gpu;

/**
 * Walks a store a tile of rows at a time, the unit of {@link SimdScorer}'s scans: float32 pages are read in place,
 * float16 rows are widened into a buffer once per tile (then every query of the batch reuses them).
 */
final class Tiles {

    /** Rows scored together: small enough that a tile of d = 256 float32 rows stays in L1/L2. */
    static final int TILE_ROWS = 32;

    final VectorStore keys;
    private final float[] widened;
    float[] data;
    int base;

    Tiles(VectorStore keys) {
        this.keys = keys;
        this.widened = keys.precision() == Precision.FLOAT16 ? new float[TILE_ROWS * keys.dim()] : null;
    }

    /** Points {@link #data}/{@link #base} at the tile starting at {@code start}; returns its end. */
    int load(int start, int to) {
        int pageRows = keys.pageRows();
        int page = start / pageRows;
        int pageStart = page * pageRows;
        int end = Math.min(Math.min(to, pageStart + pageRows), start + TILE_ROWS);
        int offset = (start - pageStart) * keys.dim();
        if (widened == null) {
            data = keys.float32Page(page);
            base = offset;
        } else {
            VectorMath.widenHalves(keys.float16Page(page), offset, widened, 0, (end - start) * keys.dim());
            data = widened;
            base = 0;
        }
        return end;
    }
}
