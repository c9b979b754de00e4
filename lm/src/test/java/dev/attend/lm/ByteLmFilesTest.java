package dev.attend.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad model files give errors that name the file and the array. */
class ByteLmFilesTest {

    @TempDir
    Path tmp;

    private Path copyModel() throws IOException {
        Optional<Path> dir = ByteLmTest.modelDir();
        assumeTrue(dir.isPresent(), "no shared model");
        for (String f : new String[] {"config.json", "weights_part1.npz", "weights_part2.npz"}) {
            Files.copy(dir.get().resolve(f), tmp.resolve(f));
        }
        return tmp;
    }

    /** Rewrites {@code file}: each entry goes through {@code edit} (null drops it). */
    private static void rewrite(Path file, BiFunction<String, byte[], byte[]> edit) throws IOException {
        Path out = file.resolveSibling(file.getFileName() + ".new");
        try (ZipFile in = new ZipFile(file.toFile()); OutputStream os = Files.newOutputStream(out); ZipOutputStream zos = new ZipOutputStream(os)) {
            Enumeration<? extends ZipEntry> es = in.entries();
            while (es.hasMoreElements()) {
                ZipEntry e = es.nextElement();
                byte[] data;
                try (InputStream is = in.getInputStream(e)) {
                    data = is.readAllBytes();
                }
                byte[] edited = edit.apply(e.getName(), data);
                if (edited != null) {
                    zos.putNextEntry(new ZipEntry(e.getName()));
                    zos.write(edited);
                    zos.closeEntry();
                }
            }
        }
        Files.move(out, file, StandardCopyOption.REPLACE_EXISTING);
    }

    /** A .npy of float16 zeros of {@code shape} with dtype {@code descr}. */
    private static byte[] npy(String descr, int width, int... shape) {
        StringBuilder s = new StringBuilder();
        long n = 1;
        for (int x : shape) {
            s.append(x).append(", ");
            n *= x;
        }
        String header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + s.toString().strip() + "), }";
        int pad = 64 - (10 + header.length() + 1) % 64;
        header = header + " ".repeat(pad % 64) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + (int) n * width).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.ISO_8859_1));
        return b.array();
    }

    @Test
    void theCopyLoads() throws IOException {
        Path dir = copyModel();
        assertThat(ByteLmWeights.load(dir, ByteLmConfig.load(dir)).parameters()).isEqualTo(9_638_784L);
    }

    @Test
    void aMissingArrayIsNamed() throws IOException {
        Path dir = copyModel();
        rewrite(dir.resolve("weights_part2.npz"), (name, data) -> name.equals("layers.4.wk.npy") ? null : data);
        assertThatThrownBy(() -> ByteLm.load(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("weights_part2.npz").hasMessageContaining("'layers.4.wk'").hasMessageContaining("missing");
    }

    @Test
    void aWrongShapeIsNamedWithTheExpectedOne() throws IOException {
        Path dir = copyModel();
        rewrite(dir.resolve("weights_part1.npz"), (name, data) -> name.equals("layers.0.wq.npy") ? npy("<f2", 2, 383, 384) : data);
        assertThatThrownBy(() -> ByteLm.load(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("weights_part1.npz").hasMessageContaining("'layers.0.wq'")
                .hasMessageContaining("[383, 384]").hasMessageContaining("expected [384, 384]");
    }

    @Test
    void aWrongDtypeIsNamed() throws IOException {
        Path dir = copyModel();
        rewrite(dir.resolve("weights_part1.npz"), (name, data) -> name.equals("emb.npy") ? npy("<f8", 8, 256, 384) : data);
        assertThatThrownBy(() -> ByteLm.load(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("weights_part1.npz").hasMessageContaining("'emb'").hasMessageContaining("'<f8'");
    }

    @Test
    void aTruncatedArrayOrFileIsNamed() throws IOException {
        Path dir = copyModel();
        rewrite(dir.resolve("weights_part1.npz"), (name, data) -> name.equals("layers.1.w1.npy")
                ? Arrays.copyOf(data, data.length / 2) : data);
        assertThatThrownBy(() -> ByteLm.load(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("weights_part1.npz").hasMessageContaining("'layers.1.w1'").hasMessageContaining("truncated");
        Path part2 = dir.resolve("weights_part2.npz");
        byte[] whole = Files.readAllBytes(part2);
        Files.write(part2, Arrays.copyOf(whole, whole.length / 3));
        copyBack(dir, "weights_part1.npz");
        assertThatThrownBy(() -> ByteLm.load(dir)).isInstanceOf(IOException.class).hasMessageContaining("weights_part2.npz");
    }

    @Test
    void aMissingFileOrBadConfigIsNamed() throws IOException {
        Path dir = copyModel();
        Files.delete(dir.resolve("weights_part2.npz"));
        assertThatThrownBy(() -> ByteLm.load(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("weights_part2.npz").hasMessageContaining("missing");
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")).replace("\"kv_heads\"", "\"kv_headz\""));
        assertThatThrownBy(() -> ByteLm.load(dir)).isInstanceOf(IOException.class)
                .hasMessageContaining("config.json").hasMessageContaining("'kv_heads' is missing");
    }

    private static void copyBack(Path dir, String f) throws IOException {
        Files.copy(ByteLmTest.modelDir().orElseThrow().resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
    }
}
