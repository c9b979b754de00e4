/**
 * Measuring document search: {@link dev.attend.search.eval.TestCollection} reads test collections (documents, queries,
 * graded relevance judgments) in the SMART, BEIR, TREC and Cranfield layouts, {@link dev.attend.search.eval.IrMetrics} scores rankings against
 * judgments (nDCG, MRR, recall), and {@link dev.attend.search.eval.SearchEvaluation} runs every mode of
 * {@code dev.attend.search} on a collection and on generated fine-grained queries ({@code attend search eval}).
 * Nothing in {@code dev.attend.search} depends on it.
 */
package dev.attend.search.eval;
