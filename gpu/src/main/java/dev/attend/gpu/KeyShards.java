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

/**
 * The resident {@link KeyShard}s of each store that {@link OpenClScorer}'s full scans read: created on a store's first
 * call, grown as rows are appended, freed when the store is released or unreachable.
 */
final class KeyShards {

    private static final Cleaner CLEANER = Cleaner.create();

    private final OpenCLDevice cl;
    private final long maxBufferBytes;
    private final int candidates;
    private final Queue<KeyShard> retired = new ConcurrentLinkedQueue<>();
    private final Map<VectorStore, List<KeyShard>> resident = Collections.synchronizedMap(new WeakHashMap<>());

    KeyShards(OpenCLDevice cl, long maxBufferBytes, int candidates) {
        this.cl = cl;
        this.maxBufferBytes = maxBufferBytes;
        this.candidates = candidates;
    }

    /** The resident shards of {@code keys}, uploading rows appended since the last call. */
    List<KeyShard> sync(VectorStore keys) {
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
                KeyShard grown = new KeyShard(cl, dim, last.firstRow(), wanted, candidates);
                grown.load(keys, n);
                last.close();
                shards.set(shards.size() - 1, grown);
            } else {
                KeyShard shard = new KeyShard(cl, dim, covered, bufferRowsFor(n - covered, maxBufferRows), candidates);
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

    /** Frees the shards of {@code keys} now. */
    void release(VectorStore keys) {
        List<KeyShard> shards = resident.remove(keys);
        if (shards != null) {
            synchronized (shards) {
                shards.forEach(KeyShard::close);
                shards.clear();
            }
        }
    }

    /** Bytes of the shards of {@code keys} (keys, scores and candidate lists). */
    long bytes(VectorStore keys) {
        List<KeyShard> shards = resident.get(keys);
        long bytes = 0;
        if (shards != null) {
            for (KeyShard s : shards) {
                TopKScanKernel kernel = s.kernel();
                bytes += 4L * ((long) TopKScanKernel.KEY_BUFFERS * kernel.keys(0).length + kernel.scores.length
                        + kernel.groupMax.length + kernel.queries.length + kernel.candidates.length);
            }
        }
        return bytes;
    }

    /** Frees every shard. */
    void releaseAll() {
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
}
