/**
 * Long-sequence click models and their training: {@link dev.attend.recsys.model.SequenceModel} (DARE, TWIN-like or
 * DIN-like by {@link dev.attend.recsys.model.ModelConfig}, with a hand-derived backward pass; its batched serving
 * path in {@code CandidateScoring}),
 * {@link dev.attend.recsys.model.Trainer} (Adam, multi-threaded, seeded), {@link dev.attend.recsys.model.OnlineLearner}
 * (one event at a time) and {@link dev.attend.recsys.model.ModelFiles} (versioned, checksummed model and checkpoint
 * files). Reads samples and catalogs from {@code dev.attend.recsys.data}, scores with the gpu module and writes through
 * the index module's durable files; serving, eval, streaming, the server and the benches use it.
 */
package dev.attend.recsys.model;
