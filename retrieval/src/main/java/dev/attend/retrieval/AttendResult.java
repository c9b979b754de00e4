package dev.attend.retrieval;

/**
 * The attention output of one query, its log-sum-exp over the keys used (so callers can merge it with
 * other partial results exactly), and what it cost.
 */
public record AttendResult(float[] output, double logSumExp, AttendStats stats) {
}
