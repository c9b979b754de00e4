/**
 * Retrieval-augmented attention: a {@link dev.attend.retrieval.KvSession} holds the keys and values
 * of an attention layer's heads and answers each decode step with exact attention over a static set
 * (sink tokens and the recent window) merged, through log-sum-exp, with exact attention over the
 * top-k keys that an {@link dev.attend.index.graph.AttentionAwareIndex} retrieves. Implementation
 * classes live in {@code internals}.
 */
package dev.attend.retrieval;
