package dev.attend.index.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.index.FlatIndex;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.VectorIndexContract;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttentionAwareIndexTest extends VectorIndexContract {

    @Override
    protected VectorIndex create(int dim, Similarity similarity) {
        return new AttentionAwareIndex(dim, similarity, AttentionAwareIndex.Params.defaults());
    }

    @Override
    protected VectorIndex build(int dim, Similarity similarity, float[][] vectors, float[][] trainingQueries) {
        long[] ids = new long[vectors.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        return AttentionAwareIndex.build(dim, similarity, AttentionAwareIndex.Params.defaults(), ids, vectors,
                trainingQueries, scorer, null);
    }

    @Override
    protected VectorIndex open(Path dir) throws Exception {
        return AttentionAwareIndex.open(dir);
    }

    @Test
    void onlineInsertionKeepsRecallCloseToARebuild() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int dim = 16;
        float[][] keys = gaussian(rnd, 4000, dim, 0);
        float[][] training = gaussian(rnd, 2000, dim, 0.5);
        float[][] queries = gaussian(rnd, 60, dim, 0.5);
        long[] ids = new long[keys.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        int initial = 3000;
        long[] firstIds = Arrays.copyOf(ids, initial);
        float[][] firstKeys = Arrays.copyOf(keys, initial);
        try (AttentionAwareIndex grown = AttentionAwareIndex.build(dim, Similarity.DOT_PRODUCT, AttentionAwareIndex.Params.defaults(),
                     firstIds, firstKeys, training, scorer, null);
             AttentionAwareIndex rebuilt = AttentionAwareIndex.build(dim, Similarity.DOT_PRODUCT, AttentionAwareIndex.Params.defaults(),
                     ids, keys, training, scorer, null);
             FlatIndex flat = new FlatIndex(dim, Similarity.DOT_PRODUCT, scorer)) {
            grown.addAll(Arrays.copyOfRange(ids, initial, keys.length), Arrays.copyOfRange(keys, initial, keys.length));
            flat.addAll(ids, keys);
            double grownRecall = 0;
            double rebuiltRecall = 0;
            for (float[] q : queries) {
                SearchResult exact = flat.search(q, 20, Integer.MAX_VALUE);
                grownRecall += recall(grown.search(q, 20, 600), exact);
                rebuiltRecall += recall(rebuilt.search(q, 20, 600), exact);
            }
            grownRecall /= queries.length;
            rebuiltRecall /= queries.length;
            System.out.printf("online insertion: recall@20 %.3f grown vs %.3f rebuilt%n", grownRecall, rebuiltRecall);
            assertThat(grown.size()).isEqualTo(keys.length);
            assertThat(grownRecall).isGreaterThanOrEqualTo(rebuiltRecall - 0.05);
        }
    }

    @Test
    void aBuildProjectsItsShareOfTheTrainingQueriesAndRemembersTheShare(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int dim = 8;
        float[][] keys = gaussian(rnd, 1000, dim, 0);
        float[][] training = gaussian(rnd, 3000, dim, 0.5);
        long[] ids = new long[keys.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        for (double perKey : new double[] {0, 0.25, 1, 5}) {
            AttentionAwareIndex.Params params = AttentionAwareIndex.Params.defaults().withTrainingQueriesPerKey(perKey);
            int[] total = {0};
            try (AttentionAwareIndex index = AttentionAwareIndex.build(dim, Similarity.DOT_PRODUCT, params, ids, keys, training, scorer,
                    (done, all) -> total[0] = all)) {
                int projected = total[0] - keys.length; // progress counts queries projected, then keys linked
                int expected = perKey == 0 ? training.length : (int) Math.min(training.length, Math.ceil(perKey * keys.length));
                assertThat(projected).as("training queries projected at %s per key", perKey).isEqualTo(expected);
                Path sub = dir.resolve("perKey" + perKey);
                index.save(sub);
                try (AttentionAwareIndex reopened = AttentionAwareIndex.open(sub)) {
                    assertThat(reopened.params()).isEqualTo(params);
                }
            }
        }
    }

    @Test
    void sampledQueriesAreEvenlySpacedAndTheShareIsChecked() {
        float[][] queries = new float[10][];
        for (int i = 0; i < queries.length; i++) {
            queries[i] = new float[] {i};
        }
        float[][] chosen = AttentionAwareIndex.Params.defaults().withTrainingQueriesPerKey(0.5).sample(queries, 8);
        assertThat(Arrays.stream(chosen).mapToDouble(q -> q[0]).toArray()).containsExactly(0, 2, 5, 7);
        assertThat(AttentionAwareIndex.Params.defaults().withTrainingQueriesPerKey(0).sample(queries, 1)).isSameAs(queries);
        for (double bad : new double[] {-0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            Assertions.assertThatThrownBy(() -> AttentionAwareIndex.Params.defaults().withTrainingQueriesPerKey(bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("training queries per key");
        }
    }
}
