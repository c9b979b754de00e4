package dev.attend.retrieval;

import dev.attend.index.store.ResourceId;
import dev.attend.index.store.StorageErrors;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A {@link KvSession}'s write-ahead: every prefill and append reaches its {@link KvJournal} (when the session is
 * durable) before the session changes; a write that cannot be journaled gives its charge back and changes nothing.
 */
final class WriteAhead {

    /** A journal write. */
    interface JournalWrite {
        void write(KvJournal journal) throws IOException;
    }

    private final String id;
    private final SessionCharges charges;
    private volatile KvJournal journal;

    WriteAhead(String id, SessionCharges charges) {
        this.id = id;
        this.charges = charges;
    }

    /** Makes every later write durable through {@code j} (after its replay). */
    void attach(KvJournal j) {
        this.journal = j;
    }

    KvJournal journal() {
        return journal;
    }

    /**
     * Journals a write whose {@code bytes} are reserved already ({@link SessionCharges#charge}): on failure they are given
     * back and nothing changes. A full disk is an {@link UncheckedIOException} caused by a
     * {@link StorageErrors.StorageFullException}; any other I/O failure an {@link UncheckedIOException} caused by it.
     */
    void log(JournalWrite write, long bytes) {
        KvJournal j = journal;
        try {
            if (j != null) {
                write.write(j);
            }
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

    /** Closes the journal; a failure is logged (every acknowledged write was forced already). */
    void close() {
        KvJournal j = journal;
        if (j != null) {
            try {
                j.close();
            } catch (IOException e) {
                // What can fail is the cut of a write that failed (KvJournal).
                System.getLogger(KvSession.class.getName()).log(System.Logger.Level.ERROR,
                        "KV session " + ResourceId.shown(id) + ": its journal did not close cleanly: " + e.getMessage(), e);
            }
        }
    }
}
