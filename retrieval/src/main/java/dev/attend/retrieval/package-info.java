/**
 * Retrieval-augmented attention sessions: a {@link dev.attend.retrieval.KvSession} holds the keys and values of a
 * model's KV heads ({@code SessionHead}, one each) and answers decode steps; how each head reads its keys is a policy of
 * {@code retrieval.policy} (the built-in retrieval included), opened over the head's own stores.
 * {@link dev.attend.retrieval.KvSessionStore} keeps sessions durable through {@code retrieval.internals}' journal;
 * {@link dev.attend.retrieval.KvSessionThreads} makes the threads sessions build and update their indexes on.
 * Dependencies run one way: this package uses {@code policy} and {@code internals}, neither uses it.
 */
package dev.attend.retrieval;
