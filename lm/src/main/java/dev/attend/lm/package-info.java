/**
 * A real decoder language model whose decode-time attention goes through Attend: {@link dev.attend.lm.ByteLm} runs
 * bytelm-gqa in Java (its prefill with full attention, as an inference engine does on its GPU: {@code CausalAttention},
 * with the dense kernels in {@code LmKernels}) and asks a
 * {@link dev.attend.lm.LayerAttention} for each layer's attention while decoding: the reference rules
 * ({@link dev.attend.lm.ExactAttention}), an in-process KV session ({@link dev.attend.lm.SessionAttention}) or
 * {@code attend serve} over HTTP ({@link dev.attend.lm.HttpAttention}, through {@link dev.attend.lm.KvHttpSession}, the
 * client of one KV session that {@code bench model --over-http} drives too); {@link dev.attend.lm.LmEval} measures bits
 * per byte per policy.
 */
package dev.attend.lm;
