package dev.attend.index.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Precision;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.VectorStore;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An index over rows of a store its caller keeps answers exactly as one built over its own copy of those rows. */
class SharedStoreIndexTest {

    private static final long SEED = Long.getLong("attend.test.seed", 0L) + 31;
    private static final int DIM = 16;
    private static final int SINKS = 4;
    private static final int WINDOW = 64;
    private final SimdScorer scorer = new SimdScorer(2);

    @AfterEach
    void close() {
        scorer.close();
    }

    @Test
    void aBuildOverStoreRowsAnswersAsABuildOverCopiesAndHoldsNoRows() {
        System.out.println("SharedStoreIndexTest seed " + SEED);
        for (Precision precision : Precision.values()) {
            SplittableRandom rnd = new SplittableRandom(SEED + precision.ordinal());
            VectorStore store = new VectorStore(DIM, precision);
            append(store, rnd, SINKS + 3000 + WINDOW);
            float[][] training = gaussian(rnd, 1500, 0.5);
            float[][] queries = gaussian(rnd, 40, 0.5);
            int to = SINKS + 3000;
            try (AttentionAwareIndex shared = AttentionAwareIndex.build(AttentionAwareIndex.Params.defaults(), store, SINKS, to, training,
                    scorer, null);
                 AttentionAwareIndex copied = copyOf(store, SINKS, to, training)) {
                assertSameAnswers(shared, copied, queries);
                assertThat(shared.memoryBytes()).as(precision + ": the rows are the store's")
                        .isLessThan(copied.memoryBytes() - 3000L * DIM * 4);
                // Grows with the store: the window's first rows join, as a KV session's keys leave its window.
                append(store, rnd, 200);
                int grownTo = to + 200;
                assertThat(shared.addStoredRows(grownTo)).isEqualTo(200);
                long[] ids = new long[200];
                float[][] rows = new float[200][];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = to + i;
                    rows[i] = store.row(to + i);
                }
                copied.addAll(ids, rows);
                assertThat(shared.size()).isEqualTo(copied.size()).isEqualTo(3200);
                assertThat(shared.contains(SINKS)).isTrue();
                assertThat(shared.contains(SINKS - 1)).isFalse();
                assertThat(shared.contains(grownTo)).isFalse();
                assertSameAnswers(shared, copied, queries);
            }
        }
    }

    @Test
    void keysThatAreNotTheStoresNextRowsAreRefusedAndChangeNothing() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        VectorStore store = new VectorStore(DIM, Precision.FLOAT32);
        append(store, rnd, 600);
        try (AttentionAwareIndex index = AttentionAwareIndex.build(AttentionAwareIndex.Params.defaults(), store, 0, 500,
                gaussian(rnd, 200, 0.5), scorer, null)) {
            assertThatThrownBy(() -> index.add(501, store.row(501))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not the next row");
            float[] other = store.row(500);
            other[0] += 1;
            assertThatThrownBy(() -> index.add(500, other)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not the store's row");
            assertThatThrownBy(() -> index.addStoredRows(601)).isInstanceOf(IllegalArgumentException.class);
            assertThat(index.size()).isEqualTo(500);
            index.add(500, store.row(500));
            assertThat(index.size()).isEqualTo(501);
            assertThat(index.contains(500)).isTrue();
        }
        assertThatThrownBy(() -> AttentionAwareIndex.build(AttentionAwareIndex.Params.defaults(), store, 10, 700, new float[0][], scorer,
                null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not in the store");
    }

    @Test
    void anIndexOverAStoreSavesItsRowsAndOpensOverItsOwn(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 7);
        VectorStore store = new VectorStore(DIM, Precision.FLOAT32);
        append(store, rnd, 1000);
        float[][] queries = gaussian(rnd, 20, 0.5);
        try (AttentionAwareIndex shared = AttentionAwareIndex.build(AttentionAwareIndex.Params.defaults(), store, SINKS, 900,
                gaussian(rnd, 400, 0.5), scorer, null)) {
            shared.remove(SINKS + 3);
            shared.save(dir);
            try (AttentionAwareIndex opened = AttentionAwareIndex.open(dir)) {
                assertThat(opened.contains(SINKS + 3)).isFalse();
                assertThat(opened.size()).isEqualTo(shared.size());
                assertSameAnswers(opened, shared, queries);
            }
        }
    }

    private AttentionAwareIndex copyOf(VectorStore store, int from, int to, float[][] training) {
        long[] ids = new long[to - from];
        float[][] rows = new float[to - from][];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = from + i;
            rows[i] = store.row(from + i);
        }
        return AttentionAwareIndex.build(DIM, Similarity.DOT_PRODUCT, AttentionAwareIndex.Params.defaults(), ids, rows, training, scorer, null);
    }

    private static void assertSameAnswers(AttentionAwareIndex a, AttentionAwareIndex b, float[][] queries) {
        for (float[] q : queries) {
            for (int budget : new int[] {100, 400, Integer.MAX_VALUE}) {
                SearchResult x = a.search(q, 20, budget);
                SearchResult y = b.search(q, 20, budget);
                assertThat(x.ids()).as("budget " + budget).isEqualTo(y.ids());
                assertThat(x.scores()).isEqualTo(y.scores());
                assertThat(x.stats().distanceComputations()).isEqualTo(y.stats().distanceComputations());
            }
        }
    }

    private static void append(VectorStore store, SplittableRandom rnd, int rows) {
        for (float[] row : gaussian(rnd, rows, 0)) {
            store.append(row);
        }
    }

    private static float[][] gaussian(SplittableRandom rnd, int n, double shift) {
        float[][] out = new float[n][DIM];
        for (float[] row : out) {
            for (int c = 0; c < DIM; c++) {
                row[c] = (float) (rnd.nextGaussian() * (1 + c % 3) + shift);
            }
        }
        return out;
    }

}
