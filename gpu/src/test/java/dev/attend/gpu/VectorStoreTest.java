package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class VectorStoreTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("VectorStoreTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @Test
    void readRowsCopiesTheRowsReadRowWouldAcrossPagesAndRefusesRowsOutside() {
        SplittableRandom rnd = new SplittableRandom(SEED + 11);
        int dim = 19;
        for (Precision precision : Precision.values()) {
            VectorStore store = new VectorStore(dim, precision);
            int n = store.pageRows() * 2 + 5;
            float[] rows = new float[n * dim];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (float) rnd.nextDouble(-10, 10);
            }
            store.appendRows(rows, 0, n);
            int base = 3;
            int[] ids = new int[40];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = rnd.nextInt(n - base);
            }
            float[] got = new float[ids.length * dim];
            store.readRows(ids, ids.length, base, got);
            float[] want = new float[dim];
            for (int i = 0; i < ids.length; i++) {
                store.readRow(base + ids[i], want);
                assertThat(Arrays.copyOfRange(got, i * dim, (i + 1) * dim)).as("%s row %d", precision, base + ids[i]).isEqualTo(want);
            }
            assertThatThrownBy(() -> store.readRows(new int[] {0, n - base}, 2, base, new float[2 * dim]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not in [0, " + n + ")");
        }
    }

    @Test
    void dotsScoreABatchAsDotDoesRowByRowAndRefuseRowsOutside() {
        SplittableRandom rnd = new SplittableRandom(SEED + 13);
        for (int dim : new int[] {19, 128}) {
            for (Precision precision : Precision.values()) {
                VectorStore store = new VectorStore(dim, precision);
                int n = store.pageRows() + 37;
                float[] rows = new float[n * dim];
                for (int i = 0; i < rows.length; i++) {
                    rows[i] = (float) rnd.nextDouble(-4, 4);
                }
                store.appendRows(rows, 0, n);
                float[] query = new float[dim];
                for (int i = 0; i < dim; i++) {
                    query[i] = (float) rnd.nextDouble(-1, 1);
                }
                int base = 2;
                int[] ids = new int[33];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = rnd.nextInt(n - base);
                }
                float[] got = new float[ids.length + 1];
                got[ids.length] = 42; // beyond count: untouched
                store.dots(ids, ids.length, base, query, new float[dim], got);
                for (int i = 0; i < ids.length; i++) {
                    assertThat(got[i]).as("%s d=%d row %d", precision, dim, base + ids[i]).isEqualTo(store.dot(base + ids[i], query));
                }
                assertThat(got[ids.length]).isEqualTo(42f);
                float[] before = got.clone();
                assertThatThrownBy(() -> store.dots(new int[] {0, n - base}, 2, base, query, new float[dim], got))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not in [0, " + n + ")");
                assertThat(got).as("nothing written when a row is refused").isEqualTo(before);
                assertThatThrownBy(() -> store.dots(ids, 1, base, new float[dim + 1], new float[dim], got))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dimension");
            }
        }
    }

    @Test
    void appendsAcrossPagesAndReadsBack() {
        SplittableRandom rnd = new SplittableRandom(SEED + 7);
        int dim = 5;
        int n = new VectorStore(5, Precision.FLOAT32).pageRows() + 123;
        float[] rows = new float[n * dim];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) rnd.nextDouble(-100, 100);
        }
        VectorStore f32 = new VectorStore(dim, Precision.FLOAT32);
        VectorStore f16 = new VectorStore(dim, Precision.FLOAT16);
        assertThat(f32.appendRows(rows, 0, 10)).isZero();
        assertThat(f32.appendRows(rows, 10 * dim, n - 10)).isEqualTo(10);
        f16.appendRows(rows, 0, n);
        assertThat(f32.size()).isEqualTo(n);
        for (int id : new int[] {0, 9, 10, n - 124, n - 123, n - 1}) {
            float[] a = f32.row(id);
            float[] h = f16.row(id);
            for (int c = 0; c < dim; c++) {
                assertThat(a[c]).isEqualTo(rows[id * dim + c]);
                assertThat(h[c]).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(rows[id * dim + c])));
            }
        }
        assertThat(f16.bytes()).isEqualTo(f32.bytes() / 2);
    }

    /** A short store (one user's history) holds bytes for its rows, not a whole page; growing row by row keeps every row. */
    @Test
    void shortStoresTakeBytesInProportionAndGrowByDoubling() {
        int dim = 32;
        VectorStore one = VectorStore.of(dim, new float[450 * dim]);
        assertThat(one.bytes()).isEqualTo(450L * dim * 4);
        VectorStore grown = new VectorStore(dim, Precision.FLOAT32);
        int n = grown.pageRows() * 2 + 77;
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        float[] rows = new float[n * dim];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) rnd.nextDouble(-1, 1);
        }
        for (int r = 0; r < n; ) {
            int count = Math.min(n - r, 1 + rnd.nextInt(3000));
            grown.appendRows(rows, r * dim, count);
            r += count;
            long inLast = r % grown.pageRows() == 0 ? grown.pageRows() : r % grown.pageRows();
            assertThat(grown.bytes()).as("after %d rows", r).isBetween(4L * dim * r, 4L * dim * (r - inLast + 2 * inLast));
        }
        for (int r = 0; r < n; r += 97) {
            assertThat(grown.row(r)).containsExactly(Arrays.copyOfRange(rows, r * dim, (r + 1) * dim));
        }
    }

    @Test
    void badRowsAreRejectedAndNothingIsStored() {
        VectorStore s = new VectorStore(3, Precision.FLOAT32);
        s.append(new float[] {1, 2, 3});
        assertThatThrownBy(() -> s.append(new float[] {1, 2})).hasMessageContaining("dimension 2, expected 3");
        assertThatThrownBy(() -> s.appendRows(new float[] {1, 2, 3, 4, Float.NaN, 6}, 0, 2))
                .hasMessageContaining("row 1 holds NaN at component 1");
        assertThatThrownBy(() -> s.appendRows(new float[] {1, 2, 3}, 0, 2)).hasMessageContaining("does not hold 2 rows");
        assertThat(s.size()).isEqualTo(1);
        VectorStore h = new VectorStore(2, Precision.FLOAT16);
        assertThatThrownBy(() -> h.append(new float[] {1, 70000})).hasMessageContaining("outside the float16 range");
        assertThat(h.size()).isZero();
        // What float16 rounds to 65504 is kept, what it rounds to infinity is not, in a row longer than a SIMD register too.
        VectorStore wide = new VectorStore(37, Precision.FLOAT16);
        float[] row = new float[37];
        row[36] = Math.nextDown(65520f);
        wide.append(row);
        assertThat(wide.row(0)[36]).isEqualTo(65504f);
        for (float bad : new float[] {65520f, -65520f, Float.POSITIVE_INFINITY, Float.NaN}) {
            row[36] = bad;
            assertThatThrownBy(() -> wide.append(row)).as("%s", bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("component 36");
        }
        assertThat(wide.size()).isEqualTo(1);
        assertThatThrownBy(() -> s.row(1)).hasMessageContaining("row 1 is not in [0, 1)");
        assertThatThrownBy(() -> new VectorStore(0, Precision.FLOAT32)).hasMessageContaining("dimension must be positive");
    }
}
