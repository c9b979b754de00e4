package dev.attend.retrieval;

/**
 * What one attend call did.
 *
 * @param mode          {@code "index"} (static set + retrieved top-k) or {@code "flat"} (exact over every key,
 *                      while the index is being built or when there is nothing to index yet)
 * @param keysScanned   exact query-key products: the static set, plus the index search's distance computations
 * @param staticKeys    keys of the static set (sinks, window, and tokens waiting to enter the index)
 * @param retrievedKeys keys retrieved from the index and attended exactly
 * @param micros        wall time of the call
 */
public record AttendStats(String mode, long keysScanned, int staticKeys, int retrievedKeys, long micros) {
}
