/**
 * Not public API: {@link dev.attend.broker.internals.HangingTransactions} ends the transactions a crash left open on
 * the embedded broker (their coordinator decided them, their markers were never written), which would hold a
 * restore back for good. Uses nothing of {@code dev.attend.broker}.
 */
package dev.attend.broker.internals;
