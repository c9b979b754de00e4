/**
 * Long-sequence recommendation (DARE), in sub-packages: behaviour data, importers and DARE's sample protocol in
 * {@code data}; the DARE, TWIN-like and DIN-like models, training, online learning and model files in {@code model};
 * AUC, GAUC, logloss and the popularity baseline in {@code eval}; durable per-user sequences and the
 * {@code Recommender} in {@code serving}. Builds on the gpu scorer and the index module; streaming, the server and
 * the benches use it.
 */
package dev.attend.recsys;
