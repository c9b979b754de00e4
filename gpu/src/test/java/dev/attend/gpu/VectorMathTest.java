package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class VectorMathTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("VectorMathTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @Test
    void widenHalvesGivesFloat16ToFloatsBitsForEveryValueAndOffset() {
        short[] all = new short[65536 + 37];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        // Every float16 value (subnormals, infinities and NaNs with payloads included) at several offsets and lengths
        // that leave tails for the scalar loop.
        for (int from : new int[] {0, 1, 37}) {
            for (int offset : new int[] {0, 3}) {
                int count = 65536 - from % 2;
                float[] dst = new float[offset + count];
                VectorMath.widenHalves(all, from, dst, offset, count);
                for (int i = 0; i < count; i++) {
                    int want = Float.floatToRawIntBits(Float.float16ToFloat(all[from + i]));
                    int got = Float.floatToRawIntBits(dst[offset + i]);
                    if (got != want) {
                        throw new AssertionError(String.format("float16 %04x at from %d offset %d: %08x, want %08x",
                                all[from + i] & 0xffff, from, offset, got, want));
                    }
                }
            }
        }
    }

    @Test
    void dotAndOrderedDotMatchAPlainLoopAtEveryLength() {
        SplittableRandom rnd = new SplittableRandom(SEED + 11);
        for (int length = 0; length < 90; length++) {
            float[] a = random(rnd, length + 3);
            float[] b = random(rnd, length + 5);
            double expected = 0;
            for (int c = 0; c < length; c++) {
                expected += a[3 + c] * b[5 + c];
            }
            assertThat((double) VectorMath.dot(a, 3, b, 5, length)).as("length %d", length).isCloseTo(expected, within(1e-4));
            double ordered = VectorMath.dotOrdered(a, 3, b, 5, length);
            assertThat(ordered).as("ordered, length %d", length).isCloseTo(expected, within(1e-4));
            assertThat(VectorMath.dotOrdered(a, 3, b, 5, length)).as("repeatable").isEqualTo(ordered);
        }
    }

    @Test
    void maxAbsIsTheLargestMagnitudeAndNaNWhenAnyIsNaN() {
        SplittableRandom rnd = new SplittableRandom(SEED + 19);
        for (int length = 0; length < 70; length++) {
            float[] a = random(rnd, length + 2);
            float want = 0;
            for (int c = 0; c < length; c++) {
                want = Math.max(want, Math.abs(a[2 + c]));
            }
            assertThat(VectorMath.maxAbs(a, 2, length)).as("length %d", length).isEqualTo(want);
            if (length > 0) {
                a[2 + rnd.nextInt(length)] = Float.NaN;
                assertThat(VectorMath.maxAbs(a, 2, length)).as("NaN, length %d", length).isNaN();
            }
        }
    }

    @Test
    void axpyAddsAScaledVectorAtEveryLength() {
        SplittableRandom rnd = new SplittableRandom(SEED + 13);
        for (int length = 0; length < 70; length++) {
            float[] x = random(rnd, length + 2);
            float[] y = random(rnd, length + 1);
            float[] want = y.clone();
            for (int i = 0; i < length; i++) {
                want[1 + i] += 0.75f * x[2 + i];
            }
            VectorMath.axpy(0.75f, x, 2, y, 1, length);
            for (int i = 0; i < y.length; i++) {
                assertThat((double) y[i]).isCloseTo(want[i], within(1e-5));
            }
        }
    }

    @Test
    void weightedSumAddsWeightedRowsAtEveryLength() {
        SplittableRandom rnd = new SplittableRandom(SEED + 14);
        for (int length : new int[] {1, 7, 16, 32, 33, 64, 100, 128}) {
            float[] table = random(rnd, 50 * length);
            int count = 1 + rnd.nextInt(20);
            int[] offsets = new int[count];
            float[] weights = new float[count];
            for (int s = 0; s < count; s++) {
                offsets[s] = rnd.nextInt(50) * length;
                weights[s] = (float) rnd.nextGaussian();
            }
            float[] out = random(rnd, length + 3);
            float[] want = out.clone();
            for (int s = 0; s < count; s++) {
                for (int c = 0; c < length; c++) {
                    want[3 + c] += weights[s] * table[offsets[s] + c];
                }
            }
            VectorMath.weightedSum(table, offsets, weights, count, length, out, 3);
            for (int i = 0; i < out.length; i++) {
                assertThat((double) out[i]).as("length %d, %d", length, i).isCloseTo(want[i], within(1e-4));
            }
        }
    }

    @Test
    void fourRowsTimesIsTheMatrixProductOfThePackedRows() {
        SplittableRandom rnd = new SplittableRandom(SEED + 12);
        for (int rows : new int[] {1, 4, 7, 13}) {
            for (int inner : new int[] {1, 5, 32, 67}) {
                int cols = VectorMath.padColumns(1 + rnd.nextInt(70));
                float[][] left = new float[rows][];
                for (int r = 0; r < rows; r++) {
                    left[r] = random(rnd, inner);
                }
                int stride = cols + 3; // a row stride wider than the columns used
                float[] m = random(rnd, inner * stride);
                float[] packed = VectorMath.packByFour(left, inner);
                int blocks = (rows + 3) / 4;
                int outStride = cols + 1;
                float[] out = new float[2 + blocks * 4 * outStride];
                for (int blk = 0; blk < blocks; blk++) {
                    VectorMath.fourRowsTimes(packed, blk * 4 * inner, inner, m, 0, stride, cols, out, 2 + blk * 4 * outStride, outStride);
                }
                for (int r = 0; r < rows; r++) {
                    for (int j = 0; j < cols; j++) {
                        double expected = 0;
                        for (int c = 0; c < inner; c++) {
                            expected += left[r][c] * m[c * stride + j];
                        }
                        assertThat((double) out[2 + r * outStride + j]).as("rows %d inner %d (%d, %d)", rows, inner, r, j)
                                .isCloseTo(expected, within(1e-4));
                    }
                }
                for (int r = rows; r < blocks * 4; r++) { // the zero rows that pad the last block
                    for (int j = 0; j < cols; j++) {
                        assertThat(out[2 + r * outStride + j]).isZero();
                    }
                }
            }
        }
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }
}
