package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataDirectoryTest {

    @TempDir
    Path dir;

    @Test
    void createsMissingDirectoriesAndLeavesNoProbeBehind() throws IOException {
        Path target = dir.resolve("a/b/data");

        Path prepared = DataDirectory.prepare(target);

        assertThat(prepared).isDirectory().isAbsolute();
        try (var entries = Files.list(prepared)) {
            assertThat(entries).isEmpty();
        }
    }

    @Test
    void aFileInTheWayIsAClearError() throws IOException {
        Path file = Files.writeString(dir.resolve("data"), "not a directory");

        assertThatThrownBy(() -> DataDirectory.prepare(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("attend.data-dir")
                .hasMessageContaining("not a directory");
    }

    @Test
    void anUncreatableDirectoryIsAClearError() throws IOException {
        Path file = Files.writeString(dir.resolve("plain-file"), "x");

        assertThatThrownBy(() -> DataDirectory.prepare(file.resolve("data")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("attend.data-dir")
                .hasMessageContaining("cannot be created");
    }

    @Test
    void aReadOnlyDirectoryIsAClearError() throws IOException {
        Path readOnly = Files.createDirectory(dir.resolve("read-only"));
        Assumptions.assumeTrue(readOnly.toFile().setWritable(false, false), "cannot change permissions here");
        try {
            // root writes through permission bits; the check is only meaningful for other users
            Assumptions.assumeFalse(Files.isWritable(readOnly), "running as root");
            assertThatThrownBy(() -> DataDirectory.prepare(readOnly))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining("attend.data-dir")
                    .hasMessageContaining("not writable");
        } finally {
            readOnly.toFile().setWritable(true, false);
        }
    }

    @Test
    void serverStartFailsClearlyOnABadDataDir() throws IOException {
        Path file = Files.writeString(dir.resolve("data"), "x");

        assertThatThrownBy(() -> new AttendServer().start(ServerConfig.defaults().withPort(0).withDataDir(file)))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(file.toString());
    }
}
