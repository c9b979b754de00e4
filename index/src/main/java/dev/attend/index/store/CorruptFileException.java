package dev.attend.index.store;

import java.io.IOException;
import java.nio.file.Path;

/** A durable file that is not what its writer wrote: wrong header, wrong length, wrong checksum, unknown version. */
public final class CorruptFileException extends IOException {

    private final transient Path file;

    public CorruptFileException(Path file, String reason) {
        super(file + ": " + reason);
        this.file = file;
    }

    public CorruptFileException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file;
    }

    public Path file() {
        return file;
    }
}
