package dev.attend.gpu;

import com.aparapi.device.OpenCLDevice;
import dev.attend.gpu.internals.TopKScanKernel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.ObjIntConsumer;
import java.util.stream.IntStream;

/**
 * Scorer on an OpenCL device through Aparapi. Keys stay resident on the device between calls (one
 * upload, then only appended rows' last shard is re-sent); queries go in batches of
 * {@link TopKScanKernel#BATCH}; only candidate lists come back.
 *
 * <p>The top-k over a row range ({@link #topK(float[][], VectorStore, int, int, int)}, an index build's exact
 * neighbours: tens of thousands of queries against one head's keys) takes its own path, {@link BuildTopK}: a
 * register-tiled matrix-product kernel over up to {@link BuildTopK#MAX_BATCH} queries per launch, the range resident in
 * one of at most {@link #DEFAULT_BUILD_SLOTS} slots (each an OpenCL context) while calls ask for rows inside it. That
 * path is not serialised with the rest of this scorer: calls on different stores run side by side, their kernels
 * queued on the device and their host steps overlapping. Ranges shorter than {@link BuildTopK#MIN_ROWS_PER_K} rows per
 * wanted row, and k above {@link BuildTopK#MAX_K}, are scored on the SIMD path, and their results say so.
 *
 * <p>Never a silent fallback: when no OpenCL device exists, or a kernel fails or Aparapi runs it
 * anywhere but the chosen device, a warning is logged and this scorer continues on {@link SimdScorer};
 * every result's {@link Device} says where it really ran.
 *
 * <p>Float16 stores are widened to float32 on upload (the kernel reads float32). {@link #attend} runs
 * on the SIMD path: a single query over a small subset does not pay for a device round trip, and its
 * result says so.
 */
public final class OpenClScorer implements Scorer {

    private static final System.Logger LOG = System.getLogger(OpenClScorer.class.getName());
    /** Largest single device buffer (1.75 GiB): under the 2 GiB at which drivers start refusing, and as few shards as that allows. */
    public static final long DEFAULT_MAX_BUFFER_BYTES = (7L << 30) / 4;
    /** Candidates kept per query and shard; k above half of it takes the dense path. */
    static final int CANDIDATES = 2048;
    /** Host work (comparisons or multiply-adds) above which a batch's host steps run on several threads. */
    private static final long PARALLEL_WORK = 50_000;
    /** Slots (OpenCL contexts) of the range top-k at most; the system property attend.opencl.buildSlots overrides. */
    public static final int DEFAULT_BUILD_SLOTS = Integer.getInteger("attend.opencl.buildSlots", 4);

    /** Which OpenCL devices to consider, in order. */
    public enum Target {
        /** A GPU if there is one, else an OpenCL CPU device (such as PoCL). */
        GPU_THEN_CPU,
        GPU,
        CPU
    }

    private final OpenCLDevice cl;
    private final Device clDevice;
    private final SimdScorer fallback;
    private final long maxBufferBytes;
    /** The full scans' resident rows. */
    private final KeyShards resident;
    private volatile boolean failed;
    private volatile boolean closed;
    private volatile Profile lastProfile;
    private final BuildTopK build;
    private final ExecutorService shardThreads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "attend-opencl-shard");
        t.setDaemon(true);
        return t;
    });

    /**
     * @throws IllegalStateException without Aparapi ({@code com.aparapi:aparapi}, an optional dependency of
     *                               attend-gpu) on the class path
     */
    public OpenClScorer(Target target) {
        this(target, DEFAULT_MAX_BUFFER_BYTES, new SimdScorer());
    }

    /**
     * @throws IllegalStateException without Aparapi ({@code com.aparapi:aparapi}, an optional dependency of
     *                               attend-gpu) on the class path
     */
    public OpenClScorer(Target target, long maxBufferBytes, SimdScorer fallback) {
        OpenClSupport.requireAparapi();
        this.fallback = fallback;
        this.cl = OpenClDevices.find(target);
        this.clDevice = cl == null ? null : OpenClDevices.describe(cl);
        long limit = maxBufferBytes;
        if (cl != null && cl.getMaxMemAllocSize() > 0) {
            limit = Math.min(limit, cl.getMaxMemAllocSize());
        }
        this.maxBufferBytes = limit;
        this.resident = cl == null ? null : new KeyShards(cl, limit, CANDIDATES);
        this.build = cl == null ? null : new BuildTopK(cl, limit, DEFAULT_BUILD_SLOTS);
        if (cl == null) {
            LOG.log(System.Logger.Level.WARNING, "No OpenCL " + target + " device found; OpenCL scoring runs on "
                    + fallback.device());
        }
    }

    /** The OpenCL devices present, GPUs first; empty when no OpenCL runtime is installed, or no Aparapi. */
    public static List<OpenCLDevice> listDevices() {
        return OpenClDevices.list();
    }

    /** Whether any OpenCL device can be used here (false without Aparapi on the class path). */
    public static boolean available() {
        return !listDevices().isEmpty();
    }

    /** The device that answers now: the OpenCL device, or the SIMD fallback after a failure. */
    @Override
    public Device device() {
        return cl == null || failed ? fallback.device() : clDevice;
    }

    /** Whether scoring runs on OpenCL (no device missing, no kernel failed). */
    public boolean onDevice() {
        return cl != null && !failed;
    }

    @Override
    public synchronized TopKResult topK(float[][] queries, VectorStore keys, int k) {
        checkOpen();
        VectorChecks.checkQueries(queries, keys.dim());
        VectorChecks.checkK(k);
        if (!onDevice() || keys.dim() > TopKScanKernel.MAX_DIM) {
            return fallback.topK(queries, keys, k);
        }
        try {
            return topKOnDevice(queries, keys, Math.min(k, keys.size()));
        } catch (RuntimeException | Error e) {
            fail(e);
            return fallback.topK(queries, keys, k);
        }
    }

    private TopKResult topKOnDevice(float[][] queries, VectorStore keys, int k) {
        Profile.Builder profile = new Profile.Builder();
        long t = System.nanoTime();
        List<KeyShard> shards = resident.sync(keys);
        profile.lap(t, Profile.Phase.UPLOAD);
        List<TopK> out = new ArrayList<>(queries.length);
        for (int from = 0; from < queries.length; from += TopKScanKernel.BATCH) {
            int m = Math.min(TopKScanKernel.BATCH, queries.length - from);
            TopKCollector[] collectors = new TopKCollector[m];
            for (int j = 0; j < m; j++) {
                collectors[j] = new TopKCollector(k);
            }
            if (k > 0) {
                scanBatch(queries, from, m, k, keys, shards, collectors, profile);
            }
            for (TopKCollector c : collectors) {
                out.add(c.drain());
            }
        }
        lastProfile = profile.build(shards.size());
        return new TopKResult(out, clDevice);
    }

    /** Where the time of the last {@link #topK} call went. */
    public Profile lastProfile() {
        return lastProfile;
    }

    /** Not synchronized: {@link BuildTopK}'s slots let calls from several threads share the device. */
    @Override
    public TopKResult topK(float[][] queries, VectorStore keys, int from, int to, int k) {
        checkOpen();
        VectorChecks.checkRangeTopK(queries, keys, from, to, k);
        BuildTopK path = build;
        if (!onDevice() || !path.handles(keys.dim(), from, to, k)) {
            return fallback.topK(queries, keys, from, to, k);
        }
        try {
            Profile.Builder profile = new Profile.Builder();
            TopKResult result = path.topK(queries, keys, from, to, k, fallback, clDevice, profile);
            if (result == null) {
                checkOpen();
                return fallback.topK(queries, keys, from, to, k); // interrupted while waiting for a slot
            }
            lastProfile = profile.build(path.pieces(keys.dim(), to - from));
            return result;
        } catch (RuntimeException | Error e) {
            fail(e);
            return fallback.topK(queries, keys, from, to, k);
        }
    }

    private void scanBatch(float[][] queries, int from, int m, int k, VectorStore keys, List<KeyShard> shards,
                           TopKCollector[] collectors, Profile.Builder profile) {
        long t = System.nanoTime();
        int totalGroups = shards.stream().mapToInt(KeyShard::usedGroups).sum();
        boolean dense = 2 * k > CANDIDATES || k > totalGroups;
        // Pass 0, and each shard's k largest group maxima per query, worked out on the shard's own
        // thread while the device scores the other shards.
        float[][][] bestMaxima = new float[shards.size()][][];
        forEachShard(shards, (shard, s) -> {
            shard.setQueries(queries, from, m);
            shard.score();
            if (!dense) {
                bestMaxima[s] = largestGroupMaxima(shard, m, k);
            }
        });
        for (KeyShard shard : shards) {
            profile.kernelMs += shard.lastKernelMs();
        }
        t = profile.lap(t, Profile.Phase.SCORE);
        if (dense) {
            for (KeyShard shard : shards) {
                offerAll(shard, m, collectors, null);
            }
            profile.lap(t, Profile.Phase.MERGE);
            return;
        }
        float[] thresholds = new float[TopKScanKernel.BATCH];
        for (int j = 0; j < m; j++) {
            TopKCollector best = new TopKCollector(k);
            for (float[][] maxima : bestMaxima) {
                for (float v : maxima[j]) {
                    best.offer(v, 0);
                }
            }
            thresholds[j] = best.threshold();
        }
        t = profile.lap(t, Profile.Phase.THRESHOLD);
        // Pass 1, then the shard's thread rescores its few candidates from the host copy (cheaper than
        // bringing scores back); a query whose list overflowed takes the shard's dense scores.
        TopKCollector[][] perShard = new TopKCollector[shards.size()][];
        long[] candidates = new long[shards.size()];
        forEachShard(shards, (shard, s) -> {
            shard.collect(thresholds);
            TopKCollector[] local = new TopKCollector[m];
            boolean[] overflow = new boolean[m];
            long work = 0;
            for (int j = 0; j < m; j++) {
                work += (long) Math.max(0, shard.candidateCount(j)) * keys.dim();
            }
            candidates[s] = parallelIf(work, m).mapToLong(j -> {
                local[j] = new TopKCollector(k);
                int count = shard.candidateCount(j);
                if (count < 0) {
                    overflow[j] = true;
                    return 0;
                }
                float[] q = queries[from + j];
                float[] row = new float[keys.dim()];
                for (int c = 0; c < count; c++) {
                    int id = shard.candidate(j, c);
                    keys.readRow(id, row);
                    local[j].offer(VectorMath.dot(q, 0, row, 0, row.length), id);
                }
                return count;
            }).sum();
            for (boolean o : overflow) {
                if (o) {
                    offerAll(shard, m, local, overflow);
                    break;
                }
            }
            perShard[s] = local;
        });
        for (int s = 0; s < shards.size(); s++) {
            profile.kernelMs += shards.get(s).lastKernelMs();
            profile.candidates += candidates[s];
            for (int j = 0; j < m; j++) {
                collectors[j].addAll(perShard[s][j]);
            }
        }
        profile.lap(t, Profile.Phase.COLLECT);
    }

    /** For each query of the batch, the k largest group maxima of one shard. */
    private static float[][] largestGroupMaxima(KeyShard shard, int m, int k) {
        TopKScanKernel kernel = shard.kernel();
        float[][] out = new float[m][];
        parallelIf((long) m * shard.usedGroups(), m).forEach(j -> {
            TopKCollector best = new TopKCollector(k);
            int base = j * kernel.groups;
            for (int g = 0, used = shard.usedGroups(); g < used; g++) {
                float v = kernel.groupMax[base + g];
                if (v > best.threshold()) {
                    best.offer(v, g);
                }
            }
            out[j] = best.drain().scores();
        });
        return out;
    }

    /**
     * Queries {@code [0, m)} as a stream, parallel when the host work (comparisons or multiply-adds)
     * is large enough to pay for waking threads: the host steps sit between device passes, so on a
     * GPU their latency is the call's.
     */
    static IntStream parallelIf(long work, int m) {
        IntStream range = IntStream.range(0, m);
        return work > PARALLEL_WORK ? range.parallel() : range;
    }

    /**
     * Runs {@code step} on every shard, each shard from its own thread: every Aparapi call blocks
     * until its transfer or kernel is done, so shards driven one after another would add up their
     * launch and transfer latencies.
     */
    private void forEachShard(List<KeyShard> shards, ObjIntConsumer<KeyShard> step) {
        if (shards.size() == 1) {
            step.accept(shards.getFirst(), 0);
            return;
        }
        List<Future<?>> running = new ArrayList<>(shards.size());
        for (int s = 1; s < shards.size(); s++) {
            KeyShard shard = shards.get(s);
            int index = s;
            running.add(shardThreads.submit(() -> step.accept(shard, index)));
        }
        step.accept(shards.getFirst(), 0);
        for (Future<?> f : running) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a shard", e);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            }
        }
    }

    /** Offers every score of the shard for the queries marked (all when {@code which} is null). */
    private static void offerAll(KeyShard shard, int m, TopKCollector[] collectors, boolean[] which) {
        float[] scores = shard.fetchScores();
        int capacity = shard.capacity();
        for (int j = 0; j < m; j++) {
            if (which != null && !which[j]) {
                continue;
            }
            for (int r = 0; r < shard.rows(); r++) {
                collectors[j].offer(scores[j * capacity + r], shard.firstRow() + r);
            }
        }
    }

    /** Frees the device buffers held for {@code keys} now (they are re-sent if it is scored again). */
    public synchronized void release(VectorStore keys) {
        if (build != null) {
            build.forget(keys);
        }
        if (resident != null) {
            resident.release(keys);
        }
    }

    /** What range top-k calls took of the device slots so far (all zero when no OpenCL device was found). */
    public SlotTotals slotTotals() {
        return build == null ? SlotTotals.NONE : build.totals();
    }

    /** Bytes of device buffers held for {@code keys} (keys, scores and candidate lists; the range top-k's slots too). */
    public long residentBytes(VectorStore keys) {
        return (build == null ? 0 : build.bytes(keys)) + (resident == null ? 0 : resident.bytes(keys));
    }

    @Override
    public synchronized ScoreMatrix scores(float[][] queries, VectorStore keys, int from, int to) {
        checkOpen();
        VectorChecks.checkQueries(queries, keys.dim());
        VectorChecks.checkRange(from, to, keys.size());
        if (!onDevice() || keys.dim() > TopKScanKernel.MAX_DIM) {
            return fallback.scores(queries, keys, from, to);
        }
        try {
            int cols = to - from;
            float[] out = new float[Math.multiplyExact(queries.length, cols)];
            List<KeyShard> shards = resident.sync(keys);
            for (int q0 = 0; q0 < queries.length; q0 += TopKScanKernel.BATCH) {
                int m = Math.min(TopKScanKernel.BATCH, queries.length - q0);
                for (KeyShard shard : shards) {
                    int lo = Math.max(from, shard.firstRow());
                    int hi = Math.min(to, shard.firstRow() + shard.rows());
                    if (lo >= hi) {
                        continue;
                    }
                    shard.setQueries(queries, q0, m);
                    shard.score();
                    float[] scores = shard.fetchScores();
                    for (int j = 0; j < m; j++) {
                        System.arraycopy(scores, j * shard.capacity() + (lo - shard.firstRow()),
                                out, (q0 + j) * cols + (lo - from), hi - lo);
                    }
                }
            }
            return new ScoreMatrix(out, queries.length, cols, clDevice);
        } catch (RuntimeException | Error e) {
            fail(e);
            return fallback.scores(queries, keys, from, to);
        }
    }

    @Override
    public AttentionOutput attend(float[] query, VectorStore keys, VectorStore values, int[] subset, float scale) {
        checkOpen();
        return fallback.attend(query, keys, values, subset, scale);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this OpenCL scorer is closed");
        }
    }

    private synchronized void fail(Throwable e) {
        failed = true;
        LOG.log(System.Logger.Level.WARNING, "OpenCL scoring failed on " + clDevice + "; continuing on "
                + fallback.device() + ": " + e, e);
        releaseAll();
    }

    private void releaseAll() {
        if (build != null) {
            build.close();
        }
        if (resident != null) {
            resident.releaseAll();
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        shardThreads.shutdownNow();
        releaseAll();
        fallback.close();
    }
}
