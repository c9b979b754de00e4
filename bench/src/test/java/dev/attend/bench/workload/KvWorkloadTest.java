package dev.attend.bench.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attend.gpu.KvHead;
import dev.attend.gpu.SharedData;
import dev.attend.gpu.VectorStore;
import java.nio.file.Path;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class KvWorkloadTest {

    /** The randomized inputs' seed: {@code -Dattend.test.seed=N} (0 unless set) added to each literal seed. */
    private static final long SEED = Long.getLong("attend.test.seed", 0L);

    @BeforeAll
    static void printSeed() {
        System.out.println("KvWorkloadTest seed " + SEED);
    }


    private static Path sharedSet(String name) {
        Optional<Path> dir = SharedData.resolve("kv/" + name);
        if (dir.isEmpty()) {
            System.out.println("SKIP KvWorkloadTest on kv/" + name + ": ../shared/data/kv/" + name + " not found");
        }
        Assumptions.assumeTrue(dir.isPresent(), "../shared/data/kv/" + name + " not found");
        return dir.get();
    }

    private static VectorStore random(int rows, int dim, long seed) {
        SplittableRandom r = new SplittableRandom(SEED + seed);
        float[] data = new float[rows * dim];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) r.nextGaussian();
        }
        return VectorStore.of(dim, data);
    }

    @Test
    void splitsAHeadIntoPrefillAndDecodeSteps() {
        VectorStore q = random(100, 4, 1);
        VectorStore k = random(100, 4, 2);
        KvHead head = new KvHead("H", q, k, random(100, 4, 3), 0.5f);
        KvWorkload w = KvWorkload.fromHead("set/H", head, 30);

        assertThat(w.size()).isEqualTo(70);
        assertThat(w.trainingQueries().size()).isEqualTo(70);
        assertThat(w.testQueries()).hasNumberOfRows(30);
        assertThat(w.keys().row(69)).isEqualTo(k.row(69));
        assertThat(w.trainingQueries().row(5)).isEqualTo(q.row(5));
        assertThat(w.testQueries()[0]).isEqualTo(q.row(70));
        assertThat(w.heldOutKeys()[29]).isEqualTo(k.row(99));
        assertThat(w.scale()).isEqualTo(0.5f);
        assertThat(w.isInDistribution()).isFalse();

        KvWorkload id = w.inDistribution();
        assertThat(id.isInDistribution()).isTrue();
        assertThat(id.testQueries()).isSameAs(w.heldOutKeys());
        assertThat(id.keys()).isSameAs(w.keys());
        assertThat(id.inDistribution().name()).isEqualTo(id.name());

        assertThatThrownBy(() -> KvWorkload.fromHead("x", head, 100)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> KvWorkload.fromHead("x", head, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new KvWorkload("x", k, q, new float[][] {new float[3]}, new float[0][], 1f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dimension");
    }

    @Test
    void minilmHeadAsADecodeWorkload() throws Exception {
        Path dir = sharedSet("minilm-shakespeare");
        KvWorkload w = KvWorkload.fromKvDir(dir, "L2H0");

        assertThat(w.name()).isEqualTo("minilm-shakespeare/L2H0");
        assertThat(w.size()).isEqualTo(65536 - 1024);
        assertThat(w.trainingQueries().size()).isEqualTo(65536 - 1024);
        assertThat(w.testQueries()).hasNumberOfRows(1024);
        assertThat(w.heldOutKeys()).hasNumberOfRows(1024);
        assertThat(w.dim()).isEqualTo(32);
        assertThat(w.scale()).isCloseTo((float) (1 / Math.sqrt(32)), within(1e-6f));

        WorkloadStats s = OodWorkloadGenerator.describe(w, DescribeOptions.DEFAULT.withMaxQueries(128));
        System.out.println(s.summary());
        // The data README: the mean query lies about 1 to 1.8 key standard deviations from the mean key.
        assertThat(s.gap()).isBetween(0.9, 1.9);
        // The embedded defaults were fitted to this head: the same statistics.
        WorkloadStats embedded = OodWorkloadGenerator.defaults("minilm-shakespeare/L2H0").target();
        assertThat(s.gap()).isCloseTo(embedded.gap(), within(1e-3));
        assertThat(s.sparsity()).isCloseTo(embedded.sparsity(), within(0.05));

        WorkloadStats id = OodWorkloadGenerator.describe(w.inDistribution(), DescribeOptions.DEFAULT.withMaxQueries(128));
        assertThat(id.gap()).isLessThan(s.gap() / 3); // held-out keys sit where the keys are
    }

    @Test
    void fitToARealHeadReproducesItsGapAndSparsity() throws Exception {
        Path dir = sharedSet("bytelm-pysrc");
        KvWorkload real = KvWorkload.fromKvDir(dir, "L5H4");
        assertThat(real.size()).isEqualTo(32768 - 1024);
        assertThat(real.dim()).isEqualTo(64);

        OodParameters p = OodWorkloadGenerator.fit(real);
        WorkloadStats synthetic = OodWorkloadGenerator.describe(OodWorkloadGenerator.generate(p, real.size(), 2000, 512, 5));
        System.out.println("fitted    " + p.summary());
        System.out.println("real      " + p.target().summary());
        System.out.println("synthetic " + synthetic.summary());

        assertThat(p.target().name()).isEqualTo("bytelm-pysrc/L5H4");
        assertThat(synthetic.gap()).isCloseTo(p.target().gap(), within(0.05));
        assertThat(synthetic.sparsity()).isCloseTo(p.target().sparsity(), within(0.15 * p.target().sparsity()));
    }
}
