/**
 * Retrieval-augmented attention (KV sessions, static + retrieved attention) and hybrid document
 * retrieval. Placeholder until its issue: it holds nothing that pretends to work.
 */
package dev.attend.retrieval;
