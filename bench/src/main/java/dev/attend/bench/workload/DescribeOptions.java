package dev.attend.bench.workload;

/**
 * What {@link OodWorkloadGenerator#describe} measures and over how much.
 *
 * @param maxQueries   test queries the sparsity and IVF figures are averaged over (evenly spaced among them)
 * @param sparsityKeys keys {@code [0, sparsityKeys)} the softmax runs over; 0 for all. A generated workload's
 *                     keys are independent draws, so its first {@code referenceKeys} rows compare with the real
 *                     head at the real head's size.
 * @param ivf          also measure the IVF scan fractions (k-means over the keys: seconds to tens of seconds)
 * @param ivfClusters  IVF lists (the data README used 256)
 * @param seed         seed of the k-means initialisations
 */
public record DescribeOptions(int maxQueries, int sparsityKeys, boolean ivf, int ivfClusters, long seed) {

    /** 256 queries, all keys, no IVF. */
    public static final DescribeOptions DEFAULT = new DescribeOptions(256, 0, false, 256, 1);

    public DescribeOptions {
        if (maxQueries < 1 || sparsityKeys < 0 || ivfClusters < 1) {
            throw new IllegalArgumentException("maxQueries and ivfClusters must be >= 1 and sparsityKeys >= 0");
        }
    }

    public DescribeOptions withIvf(boolean on) {
        return new DescribeOptions(maxQueries, sparsityKeys, on, ivfClusters, seed);
    }

    public DescribeOptions withSparsityKeys(int keys) {
        return new DescribeOptions(maxQueries, keys, ivf, ivfClusters, seed);
    }

    public DescribeOptions withMaxQueries(int queries) {
        return new DescribeOptions(queries, sparsityKeys, ivf, ivfClusters, seed);
    }
}
