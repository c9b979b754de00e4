package dev.attend.retrieval.policy;

import dev.attend.gpu.AttentionOutput;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.VectorStore;
import java.util.Arrays;

/**
 * Blocks of B consecutive tokens past the sinks, each represented by the per-dimension minimum and maximum of its
 * keys (Quest): {@code sum_d max(q_d min_d, q_d max_d)} bounds a query's score of every key in the block from above,
 * so ranking blocks by it finds the blocks that can hold the best keys at the cost of two products per block. The
 * best {@code blocks} are attended exactly with the static set; tokens past the last full block that left the
 * window stay in the static set until their block fills.
 */
final class BlockHead extends PolicyHead {

    private final int sinks;
    private final int window;
    private final int blockSize;
    private final int blocks;
    private float[] mins = new float[0];
    private float[] maxs = new float[0];
    private int blockCount;
    private int blockedUpTo; // positions [sinks, blockedUpTo) are in blocks

    BlockHead(float scale, Scorer scorer, VectorStore keys, VectorStore values, int sinks,
              int window, int blockSize, int blocks) {
        super(scale, scorer, keys, values);
        this.sinks = sinks;
        this.window = window;
        this.blockSize = blockSize;
        this.blocks = blocks;
        this.blockedUpTo = sinks;
    }

    @Override
    void prefill(float[][][] queries) {
        closeBlocks(tokens);
    }

    @Override
    void took() {
        closeBlocks(tokens + 1);
    }

    /** Bounds every block that has wholly left the window of a head of {@code n} tokens. */
    private void closeBlocks(int n) {
        float[] row = new float[dim];
        while (blockedUpTo + blockSize <= n - window) {
            if ((blockCount + 1) * dim > mins.length) {
                mins = Arrays.copyOf(mins, Math.max(dim, 2 * mins.length));
                maxs = Arrays.copyOf(maxs, Math.max(dim, 2 * maxs.length));
            }
            int at = blockCount * dim;
            Arrays.fill(mins, at, at + dim, Float.POSITIVE_INFINITY);
            Arrays.fill(maxs, at, at + dim, Float.NEGATIVE_INFINITY);
            for (int p = blockedUpTo; p < blockedUpTo + blockSize; p++) {
                keys.readRow(p, row);
                for (int c = 0; c < dim; c++) {
                    mins[at + c] = Math.min(mins[at + c], row[c]);
                    maxs[at + c] = Math.max(maxs[at + c], row[c]);
                }
            }
            blockCount++;
            blockedUpTo += blockSize;
        }
    }

    @Override
    public PolicyAnswer attend(float[] query, int budget) {
        checkQuery(query, budget);
        int[] staticSet = staticSet(sinks, blockedUpTo, tokens);
        LogSumExpMerge merge = new LogSumExpMerge(dim);
        AttentionOutput fixed = scorer.attend(query, keys, values, staticSet, scale);
        merge.add(fixed.output(), fixed.logSumExp());
        long scanned = staticSet.length;
        int[] positions = new int[0];
        if (blockCount > 0) {
            TopKCollector best = new TopKCollector(Math.min(blocks, blockCount));
            for (int b = 0; b < blockCount; b++) {
                float bound = 0;
                for (int c = 0, at = b * dim; c < dim; c++) {
                    bound += Math.max(query[c] * mins[at + c], query[c] * maxs[at + c]);
                }
                best.offer(bound, b);
            }
            int[] chosen = best.drain().ids();
            positions = new int[chosen.length * blockSize];
            for (int i = 0; i < chosen.length; i++) {
                for (int j = 0; j < blockSize; j++) {
                    positions[i * blockSize + j] = sinks + chosen[i] * blockSize + j;
                }
            }
            AttentionOutput inside = scorer.attend(query, keys, values, positions, scale);
            merge.add(inside.output(), inside.logSumExp());
            scanned += 2L * blockCount + positions.length;
        }
        return new PolicyAnswer(merge.output(), merge.logSumExp(), scanned, blockCount > 0, staticSet.length, positions);
    }

    /** The blocks' bounds: two vectors per block. */
    @Override
    public long indexBytes() {
        return 2L * blockCount * dim * Float.BYTES;
    }
}
