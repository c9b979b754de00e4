/**
 * Long-sequence recommendation (DARE): behaviour data, training, evaluation, serving.
 * Placeholder until its issue: it holds nothing that pretends to work.
 */
package dev.attend.recsys;
