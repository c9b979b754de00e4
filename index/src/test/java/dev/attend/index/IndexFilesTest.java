package dev.attend.index;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IndexFilesTest {

    @TempDir
    Path dir;

    @Test
    void aNewGenerationReplacesTheOldOneAndAnUnfinishedOneIsIgnored() throws Exception {
        Properties meta = new Properties();
        meta.setProperty("x", "1");
        IndexFiles.commit(dir, "t", meta, Map.of("data", out -> out.writeInt(1)));
        meta.setProperty("x", "2");
        IndexFiles.commit(dir, "t", meta, Map.of("data", out -> out.writeInt(2)));
        IndexFiles.Generation g = IndexFiles.open(dir, "t");
        assertThat(g.require("x")).isEqualTo("2");
        assertThat(Files.readAllBytes(g.file("data"))).containsExactly(0, 0, 0, 2);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("data."))).hasSize(1);
        }
        // A crash after writing new files but before CURRENT moves leaves the committed generation in force.
        Files.write(dir.resolve("data.99999999999999"), new byte[] {9});
        assertThat(IndexFiles.open(dir, "t").require("x")).isEqualTo("2");
    }

    @Test
    void wrongTypeAndMissingIndexAreClearErrors() throws Exception {
        assertThatThrownBy(() -> IndexFiles.open(dir, "t")).hasMessageContaining("no index saved");
        IndexFiles.commit(dir, "flat", new Properties(), Map.of());
        assertThatThrownBy(() -> IndexFiles.open(dir, "attention-aware")).hasMessageContaining("holds a flat index");
    }
}
