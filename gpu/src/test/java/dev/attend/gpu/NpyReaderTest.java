package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyReaderTest {

    @TempDir
    Path dir;

    /** Writes a .npy v1 file the way NumPy does (header padded to a multiple of 64 bytes). */
    static Path write(Path file, String descr, String shape, boolean fortran, byte[] data) throws IOException {
        String dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
        int unpadded = 10 + dict.length() + 1;
        int pad = (64 - unpadded % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        b.putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.ISO_8859_1));
        b.put(data);
        Files.write(file, b.array());
        return file;
    }

    @Test
    void readsFloat32AndFloat16() throws IOException {
        float[] values = {1.5f, -2.25f, 3f, 0.1f, 65504f, -0.0f};
        ByteBuffer f4 = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer f2 = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            f4.putFloat(v);
            f2.putShort(Float.floatToFloat16(v));
        }
        VectorStore a = NpyReader.read(write(dir.resolve("a.npy"), "<f4", "(3, 2)", false, f4.array()), Precision.FLOAT32);
        VectorStore h = NpyReader.read(write(dir.resolve("h.npy"), "<f2", "(3, 2)", false, f2.array()), Precision.FLOAT32);
        assertThat(a.size()).isEqualTo(3);
        assertThat(a.dim()).isEqualTo(2);
        assertThat(a.row(1)).containsExactly(3f, 0.1f);
        assertThat(h.row(1)).containsExactly(3f, Float.float16ToFloat(Float.floatToFloat16(0.1f)));
        assertThat(h.row(2)).containsExactly(65504f, -0.0f);
        assertThat(NpyReader.read(dir.resolve("a.npy"), Precision.FLOAT16, 2).size()).isEqualTo(2);
    }

    @Test
    void refusesWhatItCannotRead() throws IOException {
        byte[] eight = new byte[8];
        assertThatThrownBy(() -> NpyReader.read(write(dir.resolve("d.npy"), "<f8", "(1, 1)", false, eight), Precision.FLOAT32))
                .hasMessageContaining("dtype <f8");
        assertThatThrownBy(() -> NpyReader.read(write(dir.resolve("b.npy"), ">f4", "(2, 1)", false, eight), Precision.FLOAT32))
                .hasMessageContaining("dtype >f4");
        assertThatThrownBy(() -> NpyReader.read(write(dir.resolve("f.npy"), "<f4", "(2, 1)", true, eight), Precision.FLOAT32))
                .hasMessageContaining("Fortran order");
        assertThatThrownBy(() -> NpyReader.read(write(dir.resolve("s.npy"), "<f4", "(2,)", false, eight), Precision.FLOAT32))
                .hasMessageContaining("2-D array is required");
        assertThatThrownBy(() -> NpyReader.read(write(dir.resolve("t.npy"), "<f4", "(4, 2)", false, eight), Precision.FLOAT32))
                .hasMessageContaining("truncated");
        Files.writeString(dir.resolve("x.npy"), "not numpy at all");
        assertThatThrownBy(() -> NpyReader.read(dir.resolve("x.npy"), Precision.FLOAT32)).hasMessageContaining("bad magic");
        ByteBuffer nan = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(Float.NaN);
        assertThatThrownBy(() -> NpyReader.read(write(dir.resolve("n.npy"), "<f4", "(1, 2)", false, nan.array()), Precision.FLOAT32))
                .hasMessageContaining("NaN");
    }
}
