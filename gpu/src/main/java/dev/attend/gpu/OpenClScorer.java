package dev.attend.gpu;

import com.aparapi.device.OpenCLDevice;
import dev.attend.gpu.internals.KeyShard;
import dev.attend.gpu.internals.TopKScanKernel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
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
    /** Largest single device buffer, well under the 2 GiB that drivers refuse. */
    public static final long DEFAULT_MAX_BUFFER_BYTES = 1L << 30;
    /** Candidates kept per query and shard; k above half of it takes the dense path. */
    static final int CANDIDATES = 4096;

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
    private final Map<VectorStore, List<KeyShard>> resident = Collections.synchronizedMap(new WeakHashMap<>());
    private volatile boolean failed;
    private volatile Profile lastProfile;

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
        int totalGroups = 0;
        long t = System.nanoTime();
        for (KeyShard shard : shards) {
            shard.setQueries(queries, from, m);
            shard.score();
            profile.kernelMs += shard.lastKernelMs();
            totalGroups += shard.usedGroups();
        }
        t = profile.lap(t, Profile.Phase.SCORE);
        boolean dense = 2 * k > CANDIDATES || k > totalGroups;
        float[] thresholds = new float[TopKScanKernel.BATCH];
        if (!dense) {
            IntStream.range(0, m).parallel().forEach(j -> thresholds[j] = kthLargestGroupMax(shards, j, k));
        }
        t = profile.lap(t, Profile.Phase.THRESHOLD);
        if (dense) {
            for (KeyShard shard : shards) {
                offerAll(shard, m, collectors, null);
            }
            profile.lap(t, Profile.Phase.MERGE);
            return;
        }
        for (KeyShard shard : shards) {
            shard.collect(thresholds);
            profile.kernelMs += shard.lastKernelMs();
        }
        t = profile.lap(t, Profile.Phase.COLLECT);
        // Rescore the few candidates from the host copy (cheaper than bringing scores back), one
        // query per task; a query whose list overflowed in a shard takes that shard's dense scores.
        boolean[][] overflow = new boolean[shards.size()][m];
        profile.candidates += IntStream.range(0, m).parallel().map(j -> {
            float[] q = queries[from + j];
            float[] row = new float[keys.dim()];
            int total = 0;
            for (int s = 0; s < shards.size(); s++) {
                KeyShard shard = shards.get(s);
                int count = shard.candidateCount(j);
                if (count < 0) {
                    overflow[s][j] = true;
                    continue;
                }
                for (int c = 0; c < count; c++) {
                    int id = shard.candidate(j, c);
                    keys.readRow(id, row);
                    collectors[j].offer(SimdScorer.dot(q, row, 0, row.length), id);
                }
                total += count;
            }
            return total;
        }).sum();
        for (int s = 0; s < shards.size(); s++) {
            for (boolean o : overflow[s]) {
                if (o) {
                    offerAll(shards.get(s), m, collectors, overflow[s]);
                    break;
                }
            }
        }
        profile.lap(t, Profile.Phase.MERGE);
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

    /** The k-th largest group maximum of query j over every shard: a threshold the true top-k all meet. */
    private static float kthLargestGroupMax(List<KeyShard> shards, int j, int k) {
        TopKCollector best = new TopKCollector(k);
        for (KeyShard shard : shards) {
            TopKScanKernel kernel = shard.kernel();
            int base = j * kernel.groups;
            for (int g = 0, used = shard.usedGroups(); g < used; g++) {
                float v = kernel.groupMax[base + g];
                if (v > best.threshold()) {
                    best.offer(v, g);
                }
            }
        }
        return best.threshold();
    }

    /** The resident shards of {@code keys}, uploading rows appended since the last call. */
    private List<KeyShard> sync(VectorStore keys) {
        int n = keys.size();
        List<KeyShard> shards = resident.computeIfAbsent(keys, s -> new ArrayList<>());
        int dim = keys.dim();
        long perRowBytes = Math.max((long) dim * Float.BYTES, (long) TopKScanKernel.BATCH * Float.BYTES);
        int maxRows = (int) Math.min(Integer.MAX_VALUE / Math.max(dim, TopKScanKernel.BATCH),
                maxBufferBytes / perRowBytes) / TopKScanKernel.ROWS_PER_GROUP * TopKScanKernel.ROWS_PER_GROUP;
        if (maxRows <= 0) {
            throw new IllegalStateException("device buffers of " + maxBufferBytes + " bytes cannot hold one group of rows");
        }
        int covered = shards.isEmpty() ? 0 : shards.getLast().firstRow() + shards.getLast().rows();
        while (covered < n) {
            KeyShard last = shards.isEmpty() ? null : shards.getLast();
            if (last != null && last.rows() < last.capacity()) {
                last.load(keys, n);
            } else if (last != null && last.capacity() < maxRows) {
                // Grow the last shard (doubling) rather than leave many small ones behind.
                int wanted = Math.min(maxRows, roundUp(Math.max(2 * last.capacity(), n - last.firstRow())));
                KeyShard grown = new KeyShard(cl, dim, last.firstRow(), wanted, CANDIDATES);
                grown.load(keys, n);
                last.close();
                shards.set(shards.size() - 1, grown);
            } else {
                int wanted = Math.min(maxRows, roundUp(n - covered));
                KeyShard shard = new KeyShard(cl, dim, covered, wanted, CANDIDATES);
                shard.load(keys, n);
                shards.add(shard);
            }
            covered = shards.getLast().firstRow() + shards.getLast().rows();
        }
        return shards;
    }

    private static int roundUp(int rows) {
        int g = TopKScanKernel.ROWS_PER_GROUP;
        return Math.max(g, (int) Math.min(Integer.MAX_VALUE / 2, ((long) rows + g - 1) / g * g));
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
            bytes += 4L * ((long) kernel.keys.length + kernel.scores.length + kernel.groupMax.length
                    + kernel.queries.length + kernel.candidates.length);
        }
        return bytes;
    }

    @Override
    public synchronized ScoreMatrix scores(float[][] queries, VectorStore keys, int from, int to) {
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
        return fallback.attend(query, keys, values, subset, scale);
    }

    private void fail(Throwable e) {
        failed = true;
        LOG.log(System.Logger.Level.WARNING, "OpenCL scoring failed on " + clDevice + "; continuing on "
                + fallback.device() + ": " + e, e);
        releaseAll();
    }

    private void releaseAll() {
        synchronized (resident) {
            for (List<KeyShard> shards : resident.values()) {
                shards.forEach(KeyShard::close);
            }
            resident.clear();
        }
    }

    @Override
    public synchronized void close() {
        releaseAll();
        fallback.close();
    }
}
