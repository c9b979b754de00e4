package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The OpenCL range top-k (an index build's exact neighbours, {@link BuildTopK}) against SIMD and the scalar reference. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenClRangeTopKTest {

    private static final long SEED = Long.getLong("attend.test.seed", 20261206L);
    private OpenClScorer cl;
    private final SimdScorer simd = new SimdScorer(2);
    private final ScalarScorer scalar = new ScalarScorer();

    @BeforeAll
    void open() {
        System.out.println("OpenClRangeTopKTest seed " + SEED + " (rerun with -Dattend.test.seed=" + SEED + ")");
        boolean present = OpenClScorer.available();
        if (!present) {
            System.out.println("SKIP OpenClRangeTopKTest: no OpenCL device here");
        }
        Assumptions.assumeTrue(present, "no OpenCL device");
        cl = new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU, OpenClScorer.DEFAULT_MAX_BUFFER_BYTES, new SimdScorer(1));
    }

    @AfterAll
    void close() {
        if (cl != null) {
            cl.close();
        }
        simd.close();
    }

    /** Dimensions 64, 96, 128 and 72 (not a multiple of the kernel's 16-component steps), both precisions. */
    @Test
    void randomStoresMatchSimdAndTheReference() {
        for (int dim : new int[] {64, 96, 128, 72}) {
            SplittableRandom rnd = new SplittableRandom(SEED + dim);
            float[][] rows = RandomVectors.gaussian(rnd, 3000, dim, 0);
            float[][] queries = RandomVectors.gaussian(rnd, 150, dim, 0.3);
            for (Precision p : Precision.values()) {
                VectorStore keys = RandomVectors.store(rows, dim, p);
                // The whole store, both ends off the 128-row tiles, three tiles' worth inside.
                for (int[] range : new int[][] {{0, 3000}, {37, 2911}, {1000, 1300}}) {
                    for (int k : new int[] {1, 10, 37}) {
                        String label = "d=" + dim + " " + p + " [" + range[0] + ", " + range[1] + ") k=" + k;
                        TopKResult got = cl.topK(queries, keys, range[0], range[1], k);
                        assertThat(got.device()).as(label).isEqualTo(cl.device());
                        assertThat(cl.lastProfile().hostQueries()).as(label + ": host queries").isZero();
                        assertSame(label + " vs simd", got, simd.topK(queries, keys, range[0], range[1], k), queries, keys);
                        float[][] few = Arrays.copyOf(queries, 7);
                        TopKResult some = new TopKResult(got.perQuery().subList(0, few.length), got.device());
                        assertSame(label + " vs scalar", some, scalar.topK(few, keys, range[0], range[1], k), few, keys);
                    }
                }
            }
        }
    }

    @Test
    void shortRangesAndLargeKTakeTheSimdPathAndSaySo() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        int dim = 64;
        VectorStore keys = RandomVectors.store(RandomVectors.gaussian(rnd, 2000, dim, 0), dim, Precision.FLOAT16);
        float[][] queries = RandomVectors.gaussian(rnd, 9, dim, 0);
        // Empty, one row, k above the range, k = 0, and a range too short for k.
        for (int[] c : new int[][] {{500, 500, 5}, {700, 701, 1}, {700, 701, 3}, {100, 160, 100}, {0, 2000, 0}, {0, 400, 100}}) {
            String label = "[" + c[0] + ", " + c[1] + ") k=" + c[2];
            TopKResult got = cl.topK(queries, keys, c[0], c[1], c[2]);
            assertThat(got.device().backend()).as(label).isEqualTo("simd");
            TopKResult want = scalar.topK(queries, keys, c[0], c[1], c[2]);
            for (int i = 0; i < queries.length; i++) {
                assertThat(got.get(i).size()).as(label).isEqualTo(Math.min(c[2], c[1] - c[0]));
            }
            assertSame(label, got, want, queries, keys);
        }
        assertThat(cl.topK(new float[0][], keys, 0, 2000, 10).perQuery()).isEmpty();
    }

    /** Small device buffers: the range in several pieces, the queries in several launches of one tile. */
    @Test
    void piecesAndBatchesOnSmallBuffers() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        int dim = 64;
        VectorStore keys = RandomVectors.store(RandomVectors.gaussian(rnd, 5000, dim, 0), dim, Precision.FLOAT32);
        float[][] queries = RandomVectors.gaussian(rnd, 300, dim, 0.2);
        try (OpenClScorer small = new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU, 256L << 10, new SimdScorer(1))) {
            for (int[] c : new int[][] {{0, 5000, 20}, {123, 4567, 100}}) {
                String label = "[" + c[0] + ", " + c[1] + ") k=" + c[2];
                TopKResult got = small.topK(queries, keys, c[0], c[1], c[2]);
                assertThat(got.device().backend()).as(label).isEqualTo("opencl");
                assertThat(small.lastProfile().shards()).as(label + ": pieces").isGreaterThan(1);
                assertSame(label, got, simd.topK(queries, keys, c[0], c[1], c[2]), queries, keys);
            }
        }
    }

    /** A block of rows that stands out fills the first candidate lists; tighter thresholds on the device bound them. */
    @Test
    void overflowingListsAreCollectedAgainAtATighterThreshold() {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        int dim = 32;
        float[][] rows = RandomVectors.gaussian(rnd, 20_000, dim, 0);
        for (int r = 5000; r < 6000; r++) {
            rows[r][0] += 12;
        }
        VectorStore keys = RandomVectors.store(rows, dim, Precision.FLOAT32);
        float[][] queries = RandomVectors.gaussian(rnd, 20, dim, 0);
        for (float[] q : queries) {
            q[0] = 4;
        }
        TopKResult got = cl.topK(queries, keys, 0, 20_000, 100);
        assertThat(got.device().backend()).isEqualTo("opencl");
        assertThat(cl.lastProfile().refined()).as("lists collected again").isPositive();
        assertSame("hot block", got, simd.topK(queries, keys, 0, 20_000, 100), queries, keys);
    }

    @Test
    void hostileArgumentsAreRefusedBeforeAnythingRuns() {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        int dim = 16;
        VectorStore keys = RandomVectors.store(RandomVectors.gaussian(rnd, 3000, dim, 0), dim, Precision.FLOAT32);
        float[][] ok = RandomVectors.gaussian(rnd, 3, dim, 0);
        float[][] nan = RandomVectors.gaussian(rnd, 3, dim, 0);
        nan[1][4] = Float.NaN;
        float[][] shortQuery = {new float[dim - 1]};
        for (Runnable call : List.<Runnable>of(
                () -> cl.topK(ok, keys, 2000, 1000, 10),
                () -> cl.topK(ok, keys, 0, 3001, 10),
                () -> cl.topK(ok, keys, -1, 3000, 10),
                () -> cl.topK(ok, keys, 0, 3000, -1),
                () -> cl.topK(nan, keys, 0, 3000, 10),
                () -> cl.topK(shortQuery, keys, 0, 3000, 10),
                () -> cl.topK(null, keys, 0, 3000, 10))) {
            assertThatThrownBy(call::run).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(cl.residentBytes(keys)).as("nothing was sent").isZero();
    }

    /** The range stays on the device across calls, follows appended rows, and goes with release. */
    @Test
    void residentRowsFollowAppendsAndRelease() {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        int dim = 48;
        VectorStore keys = RandomVectors.store(RandomVectors.gaussian(rnd, 2500, dim, 0), dim, Precision.FLOAT16);
        float[][] queries = RandomVectors.gaussian(rnd, 40, dim, 0.5);
        assertSame("first", cl.topK(queries, keys, 0, 2500, 25), simd.topK(queries, keys, 0, 2500, 25), queries, keys);
        long held = cl.residentBytes(keys);
        assertThat(held).isGreaterThanOrEqualTo(2500L * dim * Float.BYTES);
        assertSame("inside", cl.topK(queries, keys, 300, 2100, 25), simd.topK(queries, keys, 300, 2100, 25), queries, keys);
        // 200 rows fit the room the slot left (copied alone), 500 more do not (all copied again).
        for (int[] grow : new int[][] {{200, 2700}, {500, 3200}}) {
            for (float[] row : RandomVectors.gaussian(rnd, grow[0], dim, 0.4)) {
                keys.append(row);
            }
            assertSame("appended " + grow[0], cl.topK(queries, keys, 0, grow[1], 25), simd.topK(queries, keys, 0, grow[1], 25),
                    queries, keys);
        }
        cl.release(keys);
        assertThat(cl.residentBytes(keys)).isZero();
        assertSame("again", cl.topK(queries, keys, 0, 3200, 25), simd.topK(queries, keys, 0, 3200, 25), queries, keys);
        assertThat(cl.residentBytes(keys)).isPositive();
    }

    /** Builds of several heads at once: each call gets a slot of its own or waits for one. */
    @Test
    void concurrentCallsOnSeveralStores() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 6);
        int dim = 32;
        List<VectorStore> stores = new ArrayList<>();
        for (int s = 0; s < 3; s++) {
            stores.add(RandomVectors.store(RandomVectors.gaussian(rnd, 2000 + 300 * s, dim, 0), dim, Precision.FLOAT32));
        }
        float[][] queries = RandomVectors.gaussian(rnd, 130, dim, 0.2);
        ExecutorService threads = Executors.newFixedThreadPool(6);
        try {
            List<Future<TopKResult>> running = new ArrayList<>();
            for (int c = 0; c < 12; c++) {
                VectorStore keys = stores.get(c % stores.size());
                running.add(threads.submit(() -> cl.topK(queries, keys, 10, keys.size() - 10, 30)));
            }
            for (int c = 0; c < running.size(); c++) {
                VectorStore keys = stores.get(c % stores.size());
                TopKResult got = running.get(c).get();
                assertThat(got.device().backend()).isEqualTo("opencl");
                assertSame("call " + c, got, simd.topK(queries, keys, 10, keys.size() - 10, 30), queries, keys);
            }
        } finally {
            threads.shutdownNow();
        }
    }

    /**
     * More stores than slots, called in turn: a slot taken over by another store gets rows laid out before it was
     * taken, of another length and precision than the ones it held.
     */
    @Test
    void moreStoresThanSlotsTakeTurns() {
        SplittableRandom rnd = new SplittableRandom(SEED + 7);
        int dim = 48;
        List<VectorStore> stores = new ArrayList<>();
        for (int s = 0; s < OpenClScorer.DEFAULT_BUILD_SLOTS + 2; s++) {
            stores.add(RandomVectors.store(RandomVectors.gaussian(rnd, 1500 + 700 * s, dim, 0), dim,
                    s % 2 == 0 ? Precision.FLOAT32 : Precision.FLOAT16));
        }
        float[][] queries = RandomVectors.gaussian(rnd, 200, dim, 0.2);
        for (int round = 0; round < 2; round++) {
            for (int s = 0; s < stores.size(); s++) {
                VectorStore keys = stores.get(s);
                int from = 7 * s;
                TopKResult got = cl.topK(queries, keys, from, keys.size(), 25);
                assertThat(got.device().backend()).isEqualTo("opencl");
                assertSame("round " + round + " store " + s, got, simd.topK(queries, keys, from, keys.size(), 25), queries, keys);
            }
        }
    }

    private static void assertSame(String label, TopKResult got, TopKResult want, float[][] queries, VectorStore keys) {
        assertThat(got.perQuery()).as(label).hasSize(queries.length);
        for (int i = 0; i < queries.length; i++) {
            ScorerAssertions.assertSameTopK(label + " q" + i, got.get(i), want.get(i), queries[i], keys);
        }
    }
}
