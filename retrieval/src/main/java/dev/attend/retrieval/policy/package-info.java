/**
 * Per-head KV policies: {@link dev.attend.retrieval.policy.HeadPolicy} names what a head reads beyond its static
 * set (everything, nothing, retrieved top-k, a recycled selection), {@link dev.attend.retrieval.policy.PolicyHead}
 * runs one head under a policy with its memory accounted, and {@link dev.attend.retrieval.policy.PolicyChooser}
 * picks streaming or retrieval for a head from its prefill.
 */
package dev.attend.retrieval.policy;
