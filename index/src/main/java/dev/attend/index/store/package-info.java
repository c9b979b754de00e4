/**
 * What every durable store of the engine shares: validated resource ids that always resolve under their store's
 * directory ({@link dev.attend.index.store.ResourceId}), files with a format header and a checksummed footer written
 * atomically ({@link dev.attend.index.store.DurableFile}), damaged files moved aside and reported instead of
 * truncated or served ({@link dev.attend.index.store.Quarantine}, {@link dev.attend.index.store.DamageLog}), and the
 * one test for a full disk ({@link dev.attend.index.store.StorageErrors}).
 */
package dev.attend.index.store;
