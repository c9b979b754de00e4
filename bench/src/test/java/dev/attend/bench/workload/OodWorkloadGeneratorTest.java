package dev.attend.bench.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

class OodWorkloadGeneratorTest {

    @Test
    void sameSeedGivesTheSameVectorsOnAnyNumberOfThreads() throws Exception {
        OodParameters p = OodWorkloadGenerator.defaults("L2H0");
        int n = 3 * VectorStore.CHUNK_ROWS + 17; // several chunks, the last one partial
        KvWorkload a = OodWorkloadGenerator.generate(p, n, 1000, 40, 7);
        KvWorkload b;
        ForkJoinPool one = new ForkJoinPool(1); // parallel streams inside run on this pool: one thread
        try {
            b = one.submit(() -> OodWorkloadGenerator.generate(p, n, 1000, 40, 7)).get();
        } finally {
            one.shutdown();
        }
        KvWorkload other = OodWorkloadGenerator.generate(p, n, 1000, 40, 8);

        assertThat(a.size()).isEqualTo(n);
        assertThat(a.trainingQueries().size()).isEqualTo(1000);
        assertThat(a.testQueries()).hasNumberOfRows(40);
        assertThat(a.heldOutKeys()).hasNumberOfRows(40);
        assertSameRows(a.keys(), b.keys());
        assertSameRows(a.trainingQueries(), b.trainingQueries());
        assertThat(a.testQueries()).isDeepEqualTo(b.testQueries());
        assertThat(a.heldOutKeys()).isDeepEqualTo(b.heldOutKeys());
        assertThat(other.keys().row(0)).isNotEqualTo(a.keys().row(0));
        assertThat(other.testQueries()[0]).isNotEqualTo(a.testQueries()[0]);
        // Keys and held-out keys are different draws of one distribution, not the same rows.
        assertThat(a.heldOutKeys()[0]).isNotEqualTo(a.keys().row(0));
    }

    private static void assertSameRows(VectorStore x, VectorStore y) {
        assertThat(y.size()).isEqualTo(x.size());
        for (int i = 0; i < x.size(); i++) {
            assertThat(y.row(i)).as("row %d", i).isEqualTo(x.row(i));
        }
    }

    @Test
    void generatedStatisticsMatchTheFittedHead() {
        for (String head : new String[] {"minilm-shakespeare/L2H0", "bytelm-pysrc/L5H4"}) {
            OodParameters p = OodWorkloadGenerator.defaults(head);
            KvWorkload w = OodWorkloadGenerator.generate(p, p.referenceKeys(), 2000, 512, 3);
            WorkloadStats s = OodWorkloadGenerator.describe(w);
            System.out.println("real      " + p.target().summary());
            System.out.println("synthetic " + s.summary());

            assertThat(s.gap()).as(head + " gap").isCloseTo(p.gap(), within(0.05));
            assertThat(p.gap()).as(head + " fitted gap vs real").isCloseTo(p.target().gap(), within(1e-3));
            assertThat(s.trainingGap()).as(head + " training gap").isCloseTo(p.trainingGap(), within(0.05));
            assertThat(s.sparsity()).as(head + " top-100 mass").isCloseTo(p.target().sparsity(), within(0.15 * p.target().sparsity()));
            assertThat(s.keyKmeansShare()).as(head + " k-means share").isBetween(0.0, 1.0);
        }
    }

    @Test
    void fitRecoversTheStatisticsOfAGeneratedWorkload() {
        OodParameters truth = OodWorkloadGenerator.defaults("L5H4");
        KvWorkload w = OodWorkloadGenerator.generate(truth, 16384, 4000, 512, 11);
        WorkloadStats measured = OodWorkloadGenerator.describe(w);

        OodParameters fitted = OodWorkloadGenerator.fit(w);

        assertThat(fitted.dim()).isEqualTo(truth.dim());
        assertThat(fitted.gap()).isCloseTo(measured.gap(), within(1e-3));
        assertThat(fitted.trainingGap()).isCloseTo(measured.trainingGap(), within(1e-3));
        assertThat(fitted.target().sparsity()).isCloseTo(measured.sparsity(), within(1e-9));
        // The magnitude is the key standard deviation when the model fits: the generated one here.
        assertThat(fitted.magnitude()).isCloseTo(truth.magnitude(), within(0.15 * truth.magnitude()));
        KvWorkload again = OodWorkloadGenerator.generate(fitted, 16384, 0, 512, 12);
        assertThat(OodWorkloadGenerator.describe(again).sparsity()).isCloseTo(measured.sparsity(), within(0.15 * measured.sparsity()));
    }

    @Test
    void atAnotherDimensionTheGapsAndTheTopMassStay() {
        OodParameters p = OodWorkloadGenerator.defaults("L5H4"); // d = 64
        assertThat(OodWorkloadGenerator.atDimension(p, 64)).isSameAs(p);
        OodParameters wide = OodWorkloadGenerator.atDimension(p, 128);
        assertThat(wide.dim()).isEqualTo(128);
        assertThat(wide.scale()).isCloseTo((float) (1 / Math.sqrt(128)), within(1e-7f));
        assertThat(Arrays.stream(wide.keyVariance()).sum()).isCloseTo(1, within(1e-9));
        assertThat(wide.gap()).isCloseTo(p.gap(), within(1e-9));
        assertThat(wide.trainingGap()).isCloseTo(p.trainingGap(), within(1e-9));
        WorkloadStats s = OodWorkloadGenerator.describe(OodWorkloadGenerator.generate(wide, p.referenceKeys(), 0, 256, 3));
        System.out.println("d=128     " + s.summary());
        assertThat(s.sparsity()).isCloseTo(p.target().sparsity(), within(0.15 * p.target().sparsity()));
    }

    @Test
    void defaultsCoverTheSharedHeads() {
        assertThat(OodWorkloadGenerator.defaultHeads()).containsExactly("minilm-shakespeare/L2H0", "minilm-shakespeare/L3H3",
                "minilm-shakespeare/L4H6", "bytelm-pysrc/L0H0", "bytelm-pysrc/L5H4");
        assertThat(OodWorkloadGenerator.defaults().source()).isEqualTo("fit(" + OodWorkloadGenerator.DEFAULT_HEAD + ")");
        for (String head : OodWorkloadGenerator.defaultHeads()) {
            OodParameters p = OodWorkloadGenerator.defaults(head);
            assertThat(p.target().name()).isEqualTo(head);
            assertThat(p.gap()).isCloseTo(p.target().gap(), within(1e-3));
        }
        assertThat(OodWorkloadGenerator.defaults("L0H0").dim()).isEqualTo(64);
        assertThatThrownBy(() -> OodWorkloadGenerator.defaults("L9H9")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("L9H9");
    }

    @Test
    void float16StoresAndBadArguments() {
        OodParameters p = OodWorkloadGenerator.defaults("L3H3");
        KvWorkload w = OodWorkloadGenerator.generate(p, 1000, 10, 5, 1, Precision.FLOAT16);
        assertThat(w.keys().precision()).isEqualTo(Precision.FLOAT16);
        assertThat(w.dim()).isEqualTo(32);
        assertThatThrownBy(() -> OodWorkloadGenerator.generate(p, 0, 10, 5, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OodWorkloadGenerator.generate(p, 10, -1, 5, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> p.withMagnitude(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> p.withClustering(1.0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OodWorkloadGenerator.fit(w)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keys");
    }

    @Test
    void magnitudeMakesAttentionSparser() {
        OodParameters p = OodWorkloadGenerator.defaults("L4H6");
        DescribeOptions o = DescribeOptions.DEFAULT.withMaxQueries(64);
        double low = OodWorkloadGenerator.describe(OodWorkloadGenerator.generate(p.withMagnitude(p.magnitude() / 2), 8192, 0, 64, 1), o).sparsity();
        double high = OodWorkloadGenerator.describe(OodWorkloadGenerator.generate(p, 8192, 0, 64, 1), o).sparsity();
        assertThat(high).isGreaterThan(low);
    }

    @Test
    void linearAlgebraHelpers() {
        double[][] a = {{4, 1, 0.5}, {1, 3, 0.2}, {0.5, 0.2, 1}};
        Linalg.Eigen e = Linalg.symmetricEigen(a);
        assertThat(e.values()[0]).isGreaterThanOrEqualTo(e.values()[1]);
        for (int k = 0; k < 3; k++) { // A v = lambda v
            for (int i = 0; i < 3; i++) {
                double av = 0;
                for (int j = 0; j < 3; j++) {
                    av += a[i][j] * e.vectors()[j][k];
                }
                assertThat(av).isCloseTo(e.values()[k] * e.vectors()[i][k], within(1e-9));
            }
        }
        double[][] r = Linalg.randomRotation(5, new SplittableRandom(1));
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 5; j++) {
                assertThat(Linalg.dot(r[i], r[j])).isCloseTo(i == j ? 1 : 0, within(1e-9));
            }
        }
    }
}
