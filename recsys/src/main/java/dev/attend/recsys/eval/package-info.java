/**
 * Measuring click predictions: {@link dev.attend.recsys.eval.Evaluation} (AUC, GAUC by user and by category, logloss
 * of a model on samples), the measures themselves in {@link dev.attend.recsys.eval.Metrics}, and the
 * {@link dev.attend.recsys.eval.Popularity} baseline. Reads samples from {@code dev.attend.recsys.data} and models from
 * {@code dev.attend.recsys.model}; the CLI, the benches and the streaming module's online training report through it.
 */
package dev.attend.recsys.eval;
