package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttentionBenchTest {

    /** A .npy v1 file of float32 rows, as NumPy writes it. */
    private static void npy(Path file, float[][] rows) throws IOException {
        int d = rows[0].length;
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + rows.length + ", " + d + "), }";
        int pad = (64 - (10 + dict.length() + 1) % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + 4 * rows.length * d).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        b.putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.ISO_8859_1));
        for (float[] r : rows) {
            for (float x : r) {
                b.putFloat(x);
            }
        }
        Files.write(file, b.array());
    }

    private static float[][] rows(SplittableRandom rnd, int n, int d, double shift) {
        float[][] out = new float[n][d];
        for (float[] r : out) {
            for (int c = 0; c < d; c++) {
                r[c] = (float) (rnd.nextGaussian() + (c == 0 ? shift : 0));
            }
        }
        return out;
    }

    @Test
    void decodesAGeneratedHeadAndReportsEveryMode(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(9);
        int n = 2000;
        int d = 16;
        npy(dir.resolve("H0.k.npy"), rows(rnd, n, d, 0));
        npy(dir.resolve("H0.v.npy"), rows(rnd, n, d, 0));
        npy(dir.resolve("H0.q.npy"), rows(rnd, n, d, 1.5));
        Files.writeString(dir.resolve("meta.json"), "{\"heads\": [\"H0\"], \"scale\": 0.5}");
        Path json = dir.resolve("attention.json");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = AttentionBench.run(new String[] {"--kv", dir.toString(), "--steps", "32", "--k", "20,400", "--sinks", "8",
                "--window", "64", "--scorer", "simd", "--json", json.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("static + top-20", "static + top-400", "full (flat)");
        JsonNode rows = new ObjectMapper().readTree(json.toFile()).path("rows");
        assertThat(rows).hasSize(4);
        for (JsonNode r : rows) {
            double mass = r.path("mass_recall_mean").asDouble();
            assertThat(mass).isBetween(0.0, 1.0 + 1e-6);
            if (r.path("mode").asText().startsWith("full")) {
                assertThat(mass).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-6));
                assertThat(r.path("relative_error_median").asDouble()).isZero();
            }
        }
        // More keys retrieved keep more of the attention mass.
        assertThat(rows.get(3).path("mass_recall_mean").asDouble()).isGreaterThan(rows.get(2).path("mass_recall_mean").asDouble());
        assertThat(AttentionBench.run(new String[] {"--steps", "3"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()))).isEqualTo(2);
    }
}
