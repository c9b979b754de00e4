/**
 * Clustering of vectors: {@link dev.attend.index.cluster.KMeans} (Lloyd's k-means, L2), its nearest-centroid step
 * {@link dev.attend.index.cluster.NearestCentroid} run on the gpu module's {@code Scorer}. The retrieval module's
 * cluster tail estimate and the benches' workload statistics use it.
 */
package dev.attend.index.cluster;
