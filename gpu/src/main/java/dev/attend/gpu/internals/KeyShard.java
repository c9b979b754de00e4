package dev.attend.gpu.internals;

import com.aparapi.Range;
import com.aparapi.device.OpenCLDevice;
import dev.attend.gpu.VectorStore;

/**
 * One device-resident slice of a {@link VectorStore}: rows {@code [firstRow, firstRow + capacity)} in
 * the blocked layout of {@link TopKScanKernel}, with the kernel that scans them. Shards keep every
 * device buffer under the allocation limit (the H200 refuses single buffers of 4 GiB), and appending
 * rows re-sends only the last shard.
 */
public final class KeyShard implements AutoCloseable {

    private final OpenCLDevice device;
    private final TopKScanKernel kernel;
    private final int firstRow;
    private final float[] rowBuffer;

    public KeyShard(OpenCLDevice device, int dim, int firstRow, int capacity, int candidateCapacity) {
        this.device = device;
        this.firstRow = firstRow;
        this.kernel = new TopKScanKernel(dim, capacity, candidateCapacity);
        this.kernel.setExplicit(true);
        this.rowBuffer = new float[dim];
    }

    public int firstRow() {
        return firstRow;
    }

    public int rows() {
        return kernel.rows;
    }

    public int capacity() {
        return kernel.capacity;
    }

    public TopKScanKernel kernel() {
        return kernel;
    }

    /** Groups that hold at least one row. */
    public int usedGroups() {
        return (kernel.rows + TopKScanKernel.GROUP - 1) / TopKScanKernel.GROUP;
    }

    /** Copies rows up to {@code storeRows} (as far as this shard reaches) and sends the shard to the device. */
    public void load(VectorStore store, int storeRows) {
        int dim = kernel.dim;
        int end = Math.min(storeRows, firstRow + kernel.capacity);
        int from = firstRow + kernel.rows;
        if (end <= from) {
            return;
        }
        float[] keys = kernel.keys;
        for (int id = from; id < end; id++) {
            store.readRow(id, rowBuffer);
            int r = id - firstRow;
            int base = (r / TopKScanKernel.GROUP) * dim * TopKScanKernel.GROUP + (r % TopKScanKernel.GROUP);
            for (int c = 0; c < dim; c++) {
                keys[base + c * TopKScanKernel.GROUP] = rowBuffer[c];
            }
        }
        kernel.rows = end - firstRow;
        kernel.put(keys);
    }

    /** Sends queries {@code [from, from + count)} as the current batch. */
    public void setQueries(float[][] queries, int from, int count) {
        float[] q = kernel.queries;
        java.util.Arrays.fill(q, 0f);
        for (int j = 0; j < count; j++) {
            float[] query = queries[from + j];
            for (int c = 0; c < kernel.dim; c++) {
                q[c * TopKScanKernel.BATCH + j] = query[c];
            }
        }
        kernel.m = count;
        kernel.put(q);
    }

    /** Pass 0: every score of the batch and each group's maximum; brings the maxima back. */
    public void score() {
        kernel.pass = 0;
        run();
        kernel.get(kernel.groupMax);
    }

    /** Pass 1: candidates at or above each query's threshold; brings the lists back. */
    public void collect(float[] thresholds) {
        System.arraycopy(thresholds, 0, kernel.thresholds, 0, TopKScanKernel.BATCH);
        java.util.Arrays.fill(kernel.counts, 0);
        kernel.put(kernel.thresholds).put(kernel.counts);
        kernel.pass = 1;
        run();
        kernel.get(kernel.counts).get(kernel.candidateIds).get(kernel.candidateScores);
    }

    /** Brings every score of the current batch back (for dense score blocks and overflowing candidate lists). */
    public float[] fetchScores() {
        kernel.get(kernel.scores);
        return kernel.scores;
    }

    private void run() {
        int global = usedGroups() * TopKScanKernel.GROUP;
        Range range = device.createRange(global, TopKScanKernel.GROUP);
        kernel.execute(range);
        if (!kernel.isRunningCL() || !(kernel.getTargetDevice() instanceof OpenCLDevice)) {
            throw new IllegalStateException("OpenCL kernel did not run on " + device.getShortDescription()
                    + " (Aparapi fell back to " + kernel.getTargetDevice() + ")");
        }
    }

    @Override
    public void close() {
        kernel.dispose();
    }
}
