package dev.attend.gpu;

import com.aparapi.Range;
import com.aparapi.device.OpenCLDevice;
import dev.attend.gpu.internals.TopKScanKernel;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * One device-resident slice of a {@link VectorStore}: rows {@code [firstRow, firstRow + capacity)} in
 * the {@link TopKScanKernel#KEY_BUFFERS} key buffers of one kernel (one OpenCL context), in its
 * blocked layout. Buffers stay under the allocation limit (the H200 refuses single buffers of 4 GiB);
 * appending rows re-sends only the buffers they land in.
 */
final class KeyShard implements AutoCloseable {

    private final OpenCLDevice device;
    private final TopKScanKernel kernel;
    private final int firstRow;
    private boolean sent;

    public KeyShard(OpenCLDevice device, int dim, int firstRow, int bufferRows, int candidateCapacity) {
        this.device = device;
        this.firstRow = firstRow;
        this.kernel = new TopKScanKernel(dim, bufferRows, candidateCapacity);
        this.kernel.setExplicit(true);
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

    public int bufferRows() {
        return kernel.bufferRows;
    }

    public TopKScanKernel kernel() {
        return kernel;
    }

    /** Groups that hold at least one row. */
    public int usedGroups() {
        return (kernel.rows + TopKScanKernel.ROWS_PER_GROUP - 1) / TopKScanKernel.ROWS_PER_GROUP;
    }

    /** Copies rows up to {@code storeRows} (as far as this shard reaches) and sends the buffers they land in. */
    public void load(VectorStore store, int storeRows) {
        int dim = kernel.dim;
        int end = Math.min(storeRows, firstRow + kernel.capacity);
        int from = firstRow + kernel.rows;
        if (end <= from) {
            return;
        }
        int group = TopKScanKernel.GROUP;
        int blocksPerBuffer = kernel.bufferRows / group;
        // Transpose block by block, in parallel: a 10^7-row upload is otherwise seconds of one core.
        IntStream.rangeClosed((from - firstRow) / group, (end - 1 - firstRow) / group).parallel().forEach(block -> {
            float[] keys = kernel.keys(block / blocksPerBuffer);
            int inBuffer = block % blocksPerBuffer;
            float[] row = new float[dim];
            int lo = Math.max(from, firstRow + block * group);
            int hi = Math.min(end, firstRow + (block + 1) * group);
            for (int id = lo; id < hi; id++) {
                store.readRow(id, row);
                int base = inBuffer * dim * group + (id - firstRow) % group;
                for (int c = 0; c < dim; c++) {
                    keys[base + c * group] = row[c];
                }
            }
        });
        kernel.rows = end - firstRow;
        int firstBuffer = sent ? (from - firstRow) / kernel.bufferRows : 0;
        int lastBuffer = sent ? (end - 1 - firstRow) / kernel.bufferRows : TopKScanKernel.KEY_BUFFERS - 1;
        for (int b = firstBuffer; b <= lastBuffer; b++) {
            kernel.put(kernel.keys(b));
        }
        sent = true;
    }

    /** Sends queries {@code [from, from + count)} as the current batch. */
    public void setQueries(float[][] queries, int from, int count) {
        float[] q = kernel.queries;
        Arrays.fill(q, 0f);
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
        run(usedGroups());
        kernel.get(kernel.groupMax);
    }

    /**
     * Pass 1: candidates at or above each query's threshold, from the groups whose maximum reaches it
     * (no run at all when none does); brings the lists back.
     */
    public void collect(float[] thresholds) {
        if (!anyGroupReaches(thresholds)) {
            Arrays.fill(kernel.candidates, 0, TopKScanKernel.BATCH, 0);
            return;
        }
        setThresholds(thresholds);
        // Pass 0 zeroed the counters on the device; zero the host copy too, so that a buffer Aparapi
        // re-creates from it (when the GC moved the array) starts from zero as well.
        Arrays.fill(kernel.candidates, 0, TopKScanKernel.BATCH, 0);
        kernel.pass = 1;
        run(usedGroups());
        kernel.get(kernel.candidates);
    }

    private boolean anyGroupReaches(float[] thresholds) {
        int groups = kernel.groups;
        for (int j = 0; j < kernel.m; j++) {
            for (int g = 0, used = usedGroups(); g < used; g++) {
                if (kernel.groupMax[j * groups + g] >= thresholds[j]) {
                    return true;
                }
            }
        }
        return false;
    }

    private void setThresholds(float[] t) {
        TopKScanKernel k = kernel;
        k.t0 = t[0];
        k.t1 = t[1];
        k.t2 = t[2];
        k.t3 = t[3];
        k.t4 = t[4];
        k.t5 = t[5];
        k.t6 = t[6];
        k.t7 = t[7];
        k.t8 = t[8];
        k.t9 = t[9];
        k.t10 = t[10];
        k.t11 = t[11];
        k.t12 = t[12];
        k.t13 = t[13];
        k.t14 = t[14];
        k.t15 = t[15];
    }

    /** Candidates of query j after {@link #collect}, or -1 when its list overflowed. */
    public int candidateCount(int j) {
        int count = kernel.candidates[j];
        return count > kernel.candidateCapacity ? -1 : count;
    }

    /** Store row id of query j's i-th candidate. */
    public int candidate(int j, int i) {
        return firstRow + kernel.candidates[TopKScanKernel.BATCH + j * kernel.candidateCapacity + i];
    }

    /** Milliseconds the device spent on the last kernel run, as Aparapi measured it. */
    public double lastKernelMs() {
        return kernel.getExecutionTime();
    }

    /** Brings every score of the current batch back (for dense score blocks and overflowing candidate lists). */
    public float[] fetchScores() {
        kernel.get(kernel.scores);
        return kernel.scores;
    }

    private void run(int groups) {
        int global = groups * TopKScanKernel.GROUP;
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
