package dev.attend.retrieval;

import dev.attend.index.store.ResourceId;
import dev.attend.index.store.StorageErrors;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Supplier;

/**
 * A {@link KvSession}'s write-ahead: every prefill and append reaches its {@link KvWriteLog} (its {@link KvJournal}, or a
 * log shared by a cluster) as one record before the session changes; a write that cannot be logged gives its charge
 * back and changes nothing. A write whose outcome is unknown fences the session: it takes no more writes.
 */
final class WriteAhead {

    private final String id;
    private final SessionCharges charges;
    private volatile KvWriteLog log;
    private volatile KvJournal journal;
    private volatile String fenced;

    WriteAhead(String id, SessionCharges charges) {
        this.id = id;
        this.charges = charges;
    }

    /** Makes every later write durable through journal {@code j} (after its replay). */
    void attach(KvJournal j) {
        attach(new KvWriteLog() {
            @Override
            public void write(byte[] record) throws IOException {
                j.writeRecord(record);
            }

            @Override
            public void close() throws IOException {
                j.close();
            }
        });
        this.journal = j;
    }

    /** Makes every later write durable through {@code l}; a session has one log. */
    synchronized void attach(KvWriteLog l) {
        if (log != null) {
            throw new IllegalStateException("KV session " + ResourceId.shown(id) + " has a log already");
        }
        this.log = l;
    }

    KvJournal journal() {
        return journal;
    }

    /** Why the session takes no more writes, or null. */
    String fenced() {
        return fenced;
    }

    /**
     * Logs a write whose {@code bytes} are reserved already ({@link SessionCharges#charge}): on failure they are given back
     * and nothing changes. A full disk is an {@link UncheckedIOException} caused by a
     * {@link StorageErrors.StorageFullException}; any other failure of the log an {@link UncheckedIOException} caused by
     * it; a fenced session a {@link KvSessionFencedException}.
     */
    void log(Supplier<byte[]> record, long bytes) {
        KvWriteLog l = log;
        try {
            String why = fenced;
            if (why != null) {
                throw new KvSessionFencedException("KV session " + ResourceId.shown(id) + " takes no writes until it is restored from its log: "
                        + why + " (nothing changed)");
            }
            if (l != null) {
                l.write(record.get());
            }
        } catch (KvWriteUncertainException e) {
            charges.uncharge(bytes);
            fenced = "a write's outcome is unknown (" + e.getMessage() + ")";
            throw new UncheckedIOException("KV session " + ResourceId.shown(id) + ": the write's outcome is unknown (" + e.getMessage()
                    + "); the session takes no writes until it is restored from its log", e);
        } catch (IOException e) {
            charges.uncharge(bytes);
            if (StorageErrors.isDiskFull(e)) {
                String m = "KV session " + ResourceId.shown(id) + ": the disk is full, the write was not journaled and nothing changed";
                throw new UncheckedIOException(m, new StorageErrors.StorageFullException(m, e));
            }
            throw new UncheckedIOException("KV session " + ResourceId.shown(id) + ": cannot journal the write (" + e
                    + "), nothing changed", e);
        } catch (RuntimeException | Error e) {
            charges.uncharge(bytes);
            throw e;
        }
    }

    /** Closes the log; a failure is logged (every acknowledged write was made durable already). */
    void close() {
        KvWriteLog l = log;
        if (l != null) {
            try {
                l.close();
            } catch (IOException e) {
                // What can fail is the cut of a write that failed (KvJournal).
                System.getLogger(KvSession.class.getName()).log(System.Logger.Level.ERROR,
                        "KV session " + ResourceId.shown(id) + ": its log did not close cleanly: " + e.getMessage(), e);
            }
        }
    }
}
