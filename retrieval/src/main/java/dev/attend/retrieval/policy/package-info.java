/**
 * Per-head KV policies, the one place a head's reading is decided: {@link dev.attend.retrieval.policy.HeadPolicy}
 * names what a head reads beyond its static set (everything, nothing, retrieved top-k, a recycled selection, blocks,
 * a cluster tail), {@link dev.attend.retrieval.policy.PolicyHead} runs one head under a policy (retrieval in
 * {@code RetrievalHead}, with its {@link dev.attend.retrieval.policy.IndexSettings}), and
 * {@link dev.attend.retrieval.policy.PolicyChooser} picks a policy for a head from its prefill. Builds on the gpu
 * scorer and store and the index module's indexes; {@code dev.attend.retrieval}'s sessions use it, not the reverse.
 */
package dev.attend.retrieval.policy;
