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
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AttentionBenchTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("AttentionBenchTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

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
        SplittableRandom rnd = new SplittableRandom(SEED + 9);
        int n = 2000;
        int d = 16;
        npy(dir.resolve("H0.k.npy"), rows(rnd, n, d, 0));
        npy(dir.resolve("H0.v.npy"), rows(rnd, n, d, 0));
        npy(dir.resolve("H0.q.npy"), rows(rnd, n, d, 1.5));
        Files.writeString(dir.resolve("meta.json"), "{\"heads\": [\"H0\"], \"scale\": 0.5}");
        Path json = dir.resolve("attention.json");
        Path png = dir.resolve("attention.png");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = AttentionBench.run(new String[] {"--kv", dir.toString(), "--steps", "32", "--k", "20,400", "--sinks", "8",
                "--window", "64", "--scorer", "simd", "--json", json.toString(), "--plot", png.toString()},
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(rc).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("static + attention-aware top-20", "static + hnsw top-400",
                "static + exact top-20", "full (flat)");
        assertThat(png).isNotEmptyFile();
        JsonNode report = new ObjectMapper().readTree(json.toFile());
        JsonNode rows = report.path("rows");
        assertThat(rows).hasSize(8); // full, static, exact x2, attention-aware x2, hnsw x2
        for (JsonNode r : rows) {
            double mass = r.path("mass_recall_mean").asDouble();
            assertThat(mass).isBetween(0.0, 1.0 + 1e-6);
            if (r.path("kind").asText().equals("full")) {
                assertThat(mass).isCloseTo(1.0, Offset.offset(1e-6));
                assertThat(r.path("relative_error_median").asDouble()).isZero();
            }
        }
        // More keys retrieved keep more of the attention mass, and no index beats the exact top-k.
        assertThat(row(rows, "static + attention-aware top-400").path("mass_recall_mean").asDouble())
                .isGreaterThan(row(rows, "static + attention-aware top-20").path("mass_recall_mean").asDouble());
        assertThat(row(rows, "static + attention-aware top-20").path("mass_recall_mean").asDouble())
                .isLessThanOrEqualTo(row(rows, "static + exact top-20").path("mass_recall_mean").asDouble() + 1e-9);
        assertThat(row(rows, "static + exact top-20").path("recall_at_k_mean").asDouble()).isEqualTo(1.0);
        assertThat(report.path("sessions")).hasSize(2);
        assertThat(AttentionBench.run(new String[] {"--steps", "3"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()))).isEqualTo(2);
    }

    @Test
    void decodesASyntheticHead(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("synthetic.json");
        int rc = AttentionBench.run(new String[] {"--synthetic", "3000", "--train", "300", "--steps", "16", "--k", "20",
                "--sinks", "8", "--window", "64", "--retrievers", "attention-aware", "--scorer", "simd", "--json", json.toString()},
                new PrintStream(new ByteArrayOutputStream()), System.err);
        assertThat(rc).isZero();
        JsonNode rows = new ObjectMapper().readTree(json.toFile()).path("rows");
        assertThat(rows).hasSize(4);
        assertThat(row(rows, "static + attention-aware top-20").path("n").asInt()).isEqualTo(3000);
        assertThat(row(rows, "static + attention-aware top-20").path("throughput_steps_per_s").asDouble()).isPositive();
    }

    private static JsonNode row(JsonNode rows, String mode) {
        for (JsonNode r : rows) {
            if (r.path("mode").asText().equals(mode)) {
                return r;
            }
        }
        throw new AssertionError("no row " + mode + " in " + rows);
    }
}
