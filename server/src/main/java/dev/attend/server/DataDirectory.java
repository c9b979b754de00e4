package dev.attend.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Makes sure the data directory exists and can be written before the server accepts any request. */
public final class DataDirectory {

    private DataDirectory() {
    }

    /** Creates {@code dir} if missing and proves it writable; returns it as an absolute, normalised path. */
    public static Path prepare(Path dir) {
        Path absolute = dir.toAbsolutePath().normalize();
        String named = "Data directory " + absolute + " (" + ConfigKey.DATA_DIR.property() + ")";
        if (Files.exists(absolute) && !Files.isDirectory(absolute)) {
            throw new ConfigException(named + " exists but is not a directory");
        }
        try {
            Files.createDirectories(absolute);
        } catch (IOException e) {
            throw new ConfigException(named + " cannot be created: " + describe(e), e);
        }
        // A real write is the only reliable test: Files.isWritable says yes to root on a read-only mount.
        try {
            Path probe = Files.createTempFile(absolute, ".attend-write-check", ".tmp");
            Files.delete(probe);
        } catch (IOException e) {
            throw new ConfigException(named + " is not writable: " + describe(e), e);
        }
        return absolute;
    }

    private static String describe(IOException e) {
        String reason = e.getMessage();
        return e.getClass().getSimpleName() + (reason == null ? "" : " " + reason);
    }
}
