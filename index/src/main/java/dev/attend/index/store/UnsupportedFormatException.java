package dev.attend.index.store;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An intact file (its checksum holds) in a format or version this build does not read, e.g. written by a newer one.
 * Not damage: stores leave such a file in place and report it, never move it aside or write over it.
 */
public final class UnsupportedFormatException extends IOException {

    private final transient Path file;

    public UnsupportedFormatException(Path file, String reason) {
        super(file + ": " + reason);
        this.file = file;
    }

    public Path file() {
        return file;
    }
}
