/**
 * Kafka events that update behaviour sequences and models online.
 * Placeholder until its issue: it holds nothing that pretends to work.
 */
package dev.attend.streaming;
