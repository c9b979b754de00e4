package dev.attend.gpu;

import com.aparapi.device.OpenCLDevice;
import dev.attend.gpu.internals.TopKScanKernel;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
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
    private static final Cleaner CLEANER = Cleaner.create();
    private final Queue<KeyShard> retired = new ConcurrentLinkedQueue<>();
    private final Map<VectorStore, List<KeyShard>> resident = Collections.synchronizedMap(new WeakHashMap<>());
    private volatile boolean failed;
    private volatile boolean closed;
    private volatile Profile lastProfile;
    private final ExecutorService shardThreads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "attend-opencl-shard");
        t.setDaemon(true);
        return t;
    });

    public OpenClScorer(Target target) {
        this(target, DEFAULT_MAX_BUFFER_BYTES, new SimdScorer());
    }

    public OpenClScorer(Target target, long maxBufferBytes, SimdScorer fallback) {
        this.fallback = fallback;
        this.cl = findDevice(target);
        this.clDevice = cl == null ? null : describe(cl);
        long limit = maxBufferBytes;
        if (cl != null && cl.getMaxMemAllocSize() > 0) {
            limit = Math.min(limit, cl.getMaxMemAllocSize());
        }
        this.maxBufferBytes = limit;
        if (cl == null) {
            LOG.log(System.Logger.Level.WARNING, "No OpenCL " + target + " device found; OpenCL scoring runs on "
                    + fallback.device());
        }
    }

    /** The OpenCL devices present, GPUs first; empty when no OpenCL runtime is installed. */
    public static List<OpenCLDevice> listDevices() {
        List<OpenCLDevice> all = new ArrayList<>();
        try {
            all.addAll(OpenCLDevice.listDevices(com.aparapi.device.Device.TYPE.GPU));
            all.addAll(OpenCLDevice.listDevices(com.aparapi.device.Device.TYPE.ACC));
            all.addAll(OpenCLDevice.listDevices(com.aparapi.device.Device.TYPE.CPU));
        } catch (Throwable e) {
            LOG.log(System.Logger.Level.DEBUG, "OpenCL device listing failed", e);
        }
        return all;
    }

    /** Whether any OpenCL device can be used here. */
    public static boolean available() {
        return !listDevices().isEmpty();
    }

    private static OpenCLDevice findDevice(Target target) {
        for (OpenCLDevice d : listDevices()) {
            boolean gpu = d.getType() == com.aparapi.device.Device.TYPE.GPU || d.getType() == com.aparapi.device.Device.TYPE.ACC;
            if (target == Target.GPU_THEN_CPU || (target == Target.GPU) == gpu) {
                return d;
            }
        }
        return null;
    }

    private static Device describe(OpenCLDevice d) {
        Device.Kind kind = switch (d.getType()) {
            case GPU -> Device.Kind.GPU;
            case ACC -> Device.Kind.ACCELERATOR;
            default -> Device.Kind.CPU;
        };
        return new Device("opencl", kind, d.getName().strip() + ", " + d.getOpenCLPlatform().getName().strip()
                + ", " + d.getMaxComputeUnits() + " compute units");
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
        List<KeyShard> shards = sync(keys);
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
    private static IntStream parallelIf(long work, int m) {
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

    /** The resident shards of {@code keys}, uploading rows appended since the last call. */
    private List<KeyShard> sync(VectorStore keys) {
        for (KeyShard shard; (shard = retired.poll()) != null; ) {
            shard.close();
        }
        int n = keys.size();
        List<KeyShard> shards = resident.computeIfAbsent(keys, store -> {
            List<KeyShard> created = Collections.synchronizedList(new ArrayList<>());
            // Once the store is unreachable its shards are retired, and freed by the next call on this
            // scorer: Aparapi's native side is not safe to enter from the cleaner's thread meanwhile.
            CLEANER.register(store, () -> {
                synchronized (created) {
                    retired.addAll(created);
                    created.clear();
                }
            });
            return created;
        });
        int dim = keys.dim();
        int maxBufferRows = maxBufferRows(dim);
        int covered = shards.isEmpty() ? 0 : shards.getLast().firstRow() + shards.getLast().rows();
        while (covered < n) {
            KeyShard last = shards.isEmpty() ? null : shards.getLast();
            if (last != null && last.rows() < last.capacity()) {
                last.load(keys, n);
            } else if (last != null && last.bufferRows() < maxBufferRows) {
                // Grow the last shard (at least doubling) rather than leave many small ones behind.
                int wanted = bufferRowsFor(Math.max(2L * last.capacity(), (long) n - last.firstRow()), maxBufferRows);
                KeyShard grown = new KeyShard(cl, dim, last.firstRow(), wanted, CANDIDATES);
                grown.load(keys, n);
                last.close();
                shards.set(shards.size() - 1, grown);
            } else {
                KeyShard shard = new KeyShard(cl, dim, covered, bufferRowsFor(n - covered, maxBufferRows), CANDIDATES);
                shard.load(keys, n);
                shards.add(shard);
            }
            covered = shards.getLast().firstRow() + shards.getLast().rows();
        }
        return shards;
    }

    /** Rows per key buffer such that a key buffer and the score buffer each stay under the limit. */
    private int maxBufferRows(int dim) {
        long byKeys = maxBufferBytes / ((long) dim * Float.BYTES);
        long byScores = maxBufferBytes / ((long) TopKScanKernel.BATCH * Float.BYTES * TopKScanKernel.KEY_BUFFERS);
        long rows = Math.min(Math.min(byKeys, byScores),
                Integer.MAX_VALUE / (TopKScanKernel.KEY_BUFFERS * (long) Math.max(dim, TopKScanKernel.BATCH)));
        int aligned = (int) (rows / TopKScanKernel.ROWS_PER_GROUP * TopKScanKernel.ROWS_PER_GROUP);
        if (aligned <= 0) {
            throw new IllegalStateException("device buffers of " + maxBufferBytes + " bytes cannot hold one group of rows");
        }
        return aligned;
    }

    /** Rows per buffer for a shard that should hold {@code rows} rows. */
    private static int bufferRowsFor(long rows, int maxBufferRows) {
        int g = TopKScanKernel.ROWS_PER_GROUP;
        long perBuffer = (rows + TopKScanKernel.KEY_BUFFERS - 1) / TopKScanKernel.KEY_BUFFERS;
        return (int) Math.min(maxBufferRows, Math.max(g, (perBuffer + g - 1) / g * g));
    }

    /** Frees the device buffers held for {@code keys} now (they are re-sent if it is scored again). */
    public synchronized void release(VectorStore keys) {
        List<KeyShard> shards = resident.remove(keys);
        if (shards != null) {
            synchronized (shards) {
                shards.forEach(KeyShard::close);
                shards.clear();
            }
        }
    }

    /** Bytes of device buffers held for {@code keys} (keys, scores and candidate lists). */
    public long residentBytes(VectorStore keys) {
        List<KeyShard> shards = resident.get(keys);
        if (shards == null) {
            return 0;
        }
        long bytes = 0;
        for (KeyShard s : shards) {
            TopKScanKernel kernel = s.kernel();
            bytes += 4L * ((long) TopKScanKernel.KEY_BUFFERS * kernel.keys(0).length + kernel.scores.length
                    + kernel.groupMax.length + kernel.queries.length + kernel.candidates.length);
        }
        return bytes;
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
            List<KeyShard> shards = sync(keys);
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

    private void fail(Throwable e) {
        failed = true;
        LOG.log(System.Logger.Level.WARNING, "OpenCL scoring failed on " + clDevice + "; continuing on "
                + fallback.device() + ": " + e, e);
        releaseAll();
    }

    private void releaseAll() {
        for (KeyShard shard; (shard = retired.poll()) != null; ) {
            shard.close();
        }
        synchronized (resident) {
            for (List<KeyShard> shards : resident.values()) {
                synchronized (shards) {
                    shards.forEach(KeyShard::close);
                    shards.clear();
                }
            }
            resident.clear();
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
