package dev.attend.index.graph;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.gpu.Device;
import dev.attend.gpu.FilterScorer;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import dev.attend.index.FlatIndex;
import dev.attend.index.SearchResult;
import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.VectorIndexContract;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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

    /**
     * A build on a GPU links its under-linked keys by their exact neighbours (one more range top-k) and projects from
     * half the pivots; the answers stay as good as a CPU build's. The GPU is this machine's SIMD scorer under a GPU's
     * name: the branch is chosen by the device's kind, and the arithmetic is the same.
     */
    @Test
    void aGpuBuildLinksUnderLinkedKeysByTheirExactNeighbours() {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        int dim = 16;
        float[][] keys = gaussian(rnd, 5000, dim, 0);
        float[][] training = gaussian(rnd, 1200, dim, 0.5);
        float[][] queries = gaussian(rnd, 60, dim, 0.5);
        long[] ids = new long[keys.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        AttentionAwareIndex.Params params = AttentionAwareIndex.Params.defaults().withTrainingQueriesPerKey(0);
        List<int[]> calls = new ArrayList<>(); // {queries, k} of each range top-k
        Scorer gpu = new FilterScorer(scorer) {
            @Override
            public Device device() {
                return new Device("simd", Device.Kind.GPU, "the SIMD scorer as a GPU");
            }

            @Override
            public TopKResult topK(float[][] q, VectorStore keys, int from, int to, int k) {
                synchronized (calls) {
                    calls.add(new int[] {q.length, k});
                }
                return in.topK(q, keys, from, to, k);
            }

        };
        try (AttentionAwareIndex onCpu = AttentionAwareIndex.build(dim, Similarity.DOT_PRODUCT, params, ids, keys, training, scorer, null);
             AttentionAwareIndex onGpu = AttentionAwareIndex.build(dim, Similarity.DOT_PRODUCT, params, ids, keys, training, gpu, null);
             FlatIndex flat = new FlatIndex(dim, Similarity.DOT_PRODUCT, scorer)) {
            flat.addAll(ids, keys);
            double cpuRecall = 0;
            double gpuRecall = 0;
            for (float[] q : queries) {
                SearchResult exact = flat.search(q, 20, Integer.MAX_VALUE);
                cpuRecall += recall(onCpu.search(q, 20, 400), exact) / queries.length;
                gpuRecall += recall(onGpu.search(q, 20, 400), exact) / queries.length;
            }
            int selfQueries = calls.stream().filter(c -> c[1] == params.buildBeam() + 1).mapToInt(c -> c[0]).sum();
            System.out.printf("recall@20 at 8%%: cpu build %.3f, gpu build %.3f (%d keys linked by exact neighbours)%n",
                    cpuRecall, gpuRecall, selfQueries);
            assertThat(calls).as("the projection's top-k, then the under-linked keys' own").hasSizeGreaterThanOrEqualTo(2);
            assertThat(selfQueries).isBetween(1, keys.length);
            assertThat(gpuRecall).isGreaterThan(0.8).isGreaterThanOrEqualTo(cpuRecall - 0.05);
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
