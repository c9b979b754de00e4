/**
 * {@link dev.attend.index.hnswlib.HnswlibIndex}: HNSW through jelmerk's pure-Java Hnswlib port, with a
 * counting distance ({@code HnswDistance}, on the gpu module's {@code VectorMath} kernels) so that every search reports
 * its exact distance computations.
 */
package dev.attend.index.hnswlib;
