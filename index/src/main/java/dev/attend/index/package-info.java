/**
 * Vector indexes (flat, HNSW, Lucene, attention-aware) on top of the {@code gpu} scorer.
 * Placeholder until the "Vector indexes" issue: it holds nothing that pretends to work.
 */
package dev.attend.index;
