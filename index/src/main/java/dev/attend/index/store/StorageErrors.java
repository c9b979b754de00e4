package dev.attend.index.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.util.Locale;

/** Tells a full disk from other I/O failures, for a 507 instead of a 500 and a message an operator can act on. */
public final class StorageErrors {

    private StorageErrors() {
    }

    /** True when {@code t} or one of its causes says the device or the quota is full (ENOSPC, EDQUOT). */
    public static boolean isDiskFull(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            String m = c instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason() : c.getMessage();
            if (m != null) {
                String lower = m.toLowerCase(Locale.ROOT);
                if (lower.contains("no space left") || lower.contains("disk quota exceeded") || lower.contains("not enough space")) {
                    return true;
                }
            }
            if (c instanceof StorageFullException) {
                return true;
            }
        }
        return false;
    }

    /** True when {@code t} or one of its causes is an I/O failure of the store (any {@link java.io.IOException}). */
    public static boolean isIoFailure(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof IOException || c instanceof UncheckedIOException) {
                return true;
            }
        }
        return false;
    }

    /** Raised where a store refuses a write because its disk is full (and nothing of the write was applied). */
    public static final class StorageFullException extends IOException {
        public StorageFullException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
