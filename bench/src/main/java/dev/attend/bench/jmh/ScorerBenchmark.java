package dev.attend.bench.jmh;

import dev.attend.bench.PlainTopK;
import dev.attend.gpu.Precision;
import dev.attend.gpu.SimdScorer;
import dev.attend.gpu.TopKResult;
import dev.attend.gpu.VectorStore;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Top-k over n random rows: the plain scalar loop against SimdScorer on one thread and on all cores.
 * The store (n = 100,000 by default) mostly fits in cache at d = 32; {@code bench scorer} covers
 * memory-bound sizes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// BenchMain passes conf/jvm.options with -jvmArgsAppend (which replaces this); the module flag is here for runs without it.
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class ScorerBenchmark {

    @Param({"100000"})
    public int n;

    @Param({"32", "128"})
    public int d;

    @Param({"1", "16"})
    public int m;

    @Param({"100"})
    public int k;

    private VectorStore keys;
    private float[][] queries;
    private SimdScorer simd1;
    private SimdScorer simd;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom random = new SplittableRandom(42);
        float[] rows = new float[n * d];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) (random.nextDouble() * 2 - 1);
        }
        keys = new VectorStore(d, Precision.FLOAT32);
        keys.appendRows(rows, 0, n);
        queries = new float[m][d];
        for (float[] q : queries) {
            for (int c = 0; c < d; c++) {
                q[c] = (float) (random.nextDouble() * 2 - 1);
            }
        }
        simd1 = new SimdScorer(1);
        simd = new SimdScorer();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        simd1.close();
        simd.close();
    }

    @Benchmark
    public TopKResult plain() {
        return PlainTopK.topK(queries, keys, k);
    }

    @Benchmark
    public TopKResult simdOneThread() {
        return simd1.topK(queries, keys, k);
    }

    @Benchmark
    public TopKResult simdAllThreads() {
        return simd.topK(queries, keys, k);
    }
}
