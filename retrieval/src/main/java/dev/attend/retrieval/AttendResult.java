package dev.attend.retrieval;

/**
 * The attention output of one query, its log-sum-exp over the keys used (so callers can merge it with
 * other partial results exactly), the positions retrieved from the index (empty when the answer was flat),
 * and what it cost.
 */
public record AttendResult(float[] output, double logSumExp, int[] retrieved, AttendStats stats) {
}
