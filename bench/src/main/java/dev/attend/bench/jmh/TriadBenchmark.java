package dev.attend.bench.jmh;

import dev.attend.bench.Triad;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * STREAM-like triad {@code a[i] = b[i] + s * c[i]} over three float arrays (64 Mi elements, 256 MiB
 * each, by default): memory bandwidth is 12 bytes x elements / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class TriadBenchmark {

    @Param({"67108864"})
    public int elements;

    private Triad.Arrays3 arrays;
    private ExecutorService pool;
    private int threads;

    @Setup(Level.Trial)
    public void setUp() {
        arrays = new Triad.Arrays3(elements);
        threads = Runtime.getRuntime().availableProcessors();
        pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "triad");
            t.setDaemon(true);
            return t;
        });
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.shutdownNow();
    }

    @Benchmark
    public float[] singleThread() {
        Triad.triad(arrays.a, arrays.b, arrays.c, 3f, 0, elements);
        return arrays.a;
    }

    @Benchmark
    public float[] allThreads() {
        Triad.parallel(arrays, threads, pool);
        return arrays.a;
    }
}
