/**
 * Document retrieval: collections, metrics, search modes. {@link dev.attend.retrieval.search.SmartCollection}
 * reads the classic SMART-format test collections (documents, queries, relevance judgments) and
 * {@link dev.attend.retrieval.search.IrMetrics} scores a ranking against the judgments.
 */
package dev.attend.retrieval.search;
