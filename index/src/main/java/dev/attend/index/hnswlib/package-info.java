/**
 * {@link dev.attend.index.hnswlib.HnswlibIndex}: HNSW through jelmerk's pure-Java Hnswlib port, with a
 * counting Vector API distance so that every search reports its exact distance computations.
 */
package dev.attend.index.hnswlib;
