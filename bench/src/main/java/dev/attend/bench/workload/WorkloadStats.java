package dev.attend.bench.workload;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What {@link OodWorkloadGenerator#describe} measured on a workload: the statistics that make a query
 * set out-of-distribution for an index and that the generator is fitted to reproduce. Units:
 *
 * <ul>
 *   <li>{@code gap}: {@code |mean(test queries) - mean(keys)| / s_k} where {@code s_k} is the key standard
 *       deviation, {@code sqrt(sum_j Var(key_j))} (the root-mean-square distance of a key from the mean
 *       key). The data README's "1 to 1.8 key standard deviations" are in this unit. {@code trainingGap}:
 *       the same for the training (prefill) queries.
 *   <li>{@code sparsity}: mean over the measured test queries of the softmax mass (logits
 *       {@code scale * q.k} over keys {@code [0, sparsityKeys)}) held by the query's true top-100 keys;
 *       {@code sparsityMedian} the median. 1 means all attention on 100 keys; {@code 100 / sparsityKeys}
 *       means uniform.
 *   <li>{@code keyKmeansShare}, {@code queryKmeansShare}: share of the variance between the clusters of
 *       a 64-means clustering of a sample of 8,192 keys (training queries): how clustered the vectors are.
 *   <li>{@code ivfScan}: median fraction of the keys that an IVF index (k-means over the keys, centroids
 *       ranked by inner product with the query, as in the data README) must scan so that 95 of a test
 *       query's true top-100 are among the scanned keys; {@code ivfScanInDistribution} the same for
 *       held-out keys as queries. NaN when not measured.
 * </ul>
 *
 * @param name            the workload
 * @param keys            indexed keys
 * @param dim             dimension
 * @param queriesMeasured test queries the sparsity and IVF figures are over
 */
public record WorkloadStats(String name, int keys, int dim, int queriesMeasured, double gap, double trainingGap,
                            double sparsity, double sparsityMedian, int sparsityKeys, double keyKmeansShare,
                            double queryKmeansShare, double ivfScan, double ivfScanInDistribution) {

    /** The statistics as an ordered map of named numbers (and the name), for reports. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("keys", keys);
        m.put("dim", dim);
        m.put("queries_measured", queriesMeasured);
        m.put("gap_key_sd", gap);
        m.put("training_gap_key_sd", trainingGap);
        m.put("top100_mass_mean", sparsity);
        m.put("top100_mass_median", sparsityMedian);
        m.put("top100_mass_over_keys", sparsityKeys);
        m.put("key_kmeans_share", keyKmeansShare);
        m.put("query_kmeans_share", queryKmeansShare);
        if (!Double.isNaN(ivfScan)) {
            m.put("ivf_scan_q2k", ivfScan);
        }
        if (!Double.isNaN(ivfScanInDistribution)) {
            m.put("ivf_scan_k2k", ivfScanInDistribution);
        }
        return m;
    }

    /** One line: gap, sparsity, cluster shares and (when measured) IVF scans. */
    public String summary() {
        return String.format(Locale.ROOT,
                "%s: n=%d d=%d gap %.3f (training %.3f) key sd, top-100 mass %.3f mean / %.3f median over %d keys,"
                        + " k-means share keys %.3f queries %.3f%s",
                name, keys, dim, gap, trainingGap, sparsity, sparsityMedian, sparsityKeys, keyKmeansShare, queryKmeansShare,
                Double.isNaN(ivfScan) ? "" : String.format(Locale.ROOT, ", IVF scan for 95/100: %.3f (held-out keys %.3f)",
                        ivfScan, ivfScanInDistribution));
    }
}
