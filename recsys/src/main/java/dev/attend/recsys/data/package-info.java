/**
 * Behaviour data for long-sequence recommendation: importers ({@link dev.attend.recsys.data.TaobaoImporter},
 * {@link dev.attend.recsys.data.MovieLensImporter}) into {@link dev.attend.recsys.data.BehaviorEvent}s with an
 * {@link dev.attend.recsys.data.ImportReport} of skipped rows, per-user dense sequences
 * ({@link dev.attend.recsys.data.UserSequences}), DARE's sample protocol ({@link dev.attend.recsys.data.Samples}),
 * the {@link dev.attend.recsys.data.ItemCatalog} of source to dense ids, and the synthetic
 * {@link dev.attend.recsys.data.PlantedBehaviors}. Depends on nothing else in Attend; the model, eval and serving
 * packages, streaming, the server and the benches read it.
 */
package dev.attend.recsys.data;
