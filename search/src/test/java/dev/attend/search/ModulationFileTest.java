package dev.attend.search;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.index.store.CorruptFileException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModulationFileTest {

    private static final long SEED = Long.getLong("attend.test.seed", 11L);

    @BeforeAll
    static void seed() {
        System.out.println("ModulationFileTest seed " + SEED + " (override with -Dattend.test.seed=N)");
    }

    @Test
    void aModulationWithLearnedTokenWeightsSavesAndLoads(@TempDir Path dir) throws IOException {
        SplittableRandom rnd = new SplittableRandom(5);
        LexSemModulation m = LexSemModulation.withLearnedWeights(20, 8);
        for (int i = 0; i < m.w.length; i++) {
            m.w[i] = (float) rnd.nextGaussian();
            m.u[i] = (float) rnd.nextGaussian();
        }
        for (int t = 0; t < 20; t++) {
            m.c[t] = (float) rnd.nextGaussian();
        }
        Path file = dir.resolve("llr.bin");
        ModulationFile.save(m, file);
        LexSemModulation loaded = ModulationFile.load(file);
        assertThat(loaded.learnsWeights()).isTrue();
        assertThat(loaded.u).containsExactly(m.u);
        assertThat(loaded.c).containsExactly(m.c);
        int[] tokens = {1, 7, 19};
        float[] weights = {1, 1, 1};
        float[] query = LexSemModulationTest.gaussian(rnd, 8, 1);
        assertThat(loaded.modulate(tokens, weights, query)).containsExactly(m.modulate(tokens, weights, query));
        LexSemModulation presence = new LexSemModulation(20, 8);
        System.arraycopy(m.w, 0, presence.w, 0, m.w.length);
        assertThat(m.modulate(tokens, weights, query)).as("the learned weights take part")
                .isNotEqualTo(presence.modulate(tokens, weights, query));
        // a damaged tail is refused like any other
        Files.write(file, Arrays.copyOf(Files.readAllBytes(file), (int) Files.size(file) - 4));
        assertThatThrownBy(() -> ModulationFile.load(file)).isInstanceOf(CorruptFileException.class);
    }

    @Test
    void saveAndLoadGiveTheSameModulation(@TempDir Path dir) throws IOException {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        LexSemModulation m = LexSemModulationTest.randomModulation(rnd, 300, 45, 1);
        Path file = dir.resolve("lexsem.bin");
        ModulationFile.save(new LexSemModulation(3, 2), file); // an older file, replaced
        ModulationFile.save(m, file);
        assertThat(Files.size(file)).isEqualTo(ModulationFile.HEADER_BYTES + 4L * (300 * 45 + 45)
                + 4 + 2 + ModulationFile.CODEC.length() + 4 + 4 + 8 + 4); // framed: header and checksummed footer
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).as("no temporary file left").containsExactly(file);
        }
        LexSemModulation back = ModulationFile.load(file);
        assertThat(back.vocabulary()).isEqualTo(300);
        assertThat(back.dim()).isEqualTo(45);
        for (int trial = 0; trial < 20; trial++) {
            int[] tokens = LexSemModulationTest.tokens(rnd, 300, 6);
            float[] weights = LexSemModulationTest.weights(rnd, 6);
            float[] query = LexSemModulationTest.gaussian(rnd, 45, 1);
            assertThat(back.modulate(tokens, weights, query)).containsExactly(m.modulate(tokens, weights, query));
        }
        assertThat(back.w).containsExactly(m.w);
        assertThat(back.b).containsExactly(m.b);
    }

    @Test
    void loadRejectsDamagedFilesOfTheUnframedFormat(@TempDir Path dir) throws IOException {
        LexSemModulation m = LexSemModulationTest.randomModulation(new SplittableRandom(SEED + 3), 20, 8, 1);
        Path file = dir.resolve("m.bin");
        ModulationFile.saveUnframed(m, file); // what earlier builds wrote, still read, with its own checks
        byte[] bytes = Files.readAllBytes(file);

        Path truncated = dir.resolve("truncated.bin");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 5));
        assertThatThrownBy(() -> ModulationFile.load(truncated)).isInstanceOf(IOException.class)
                .hasMessageContaining(truncated.toString()).hasMessageContaining("truncated");

        Path header = dir.resolve("header.bin");
        Files.write(header, Arrays.copyOf(bytes, 10));
        assertThatThrownBy(() -> ModulationFile.load(header)).isInstanceOf(IOException.class)
                .hasMessageContaining(header.toString()).hasMessageContaining("truncated");

        Path magic = dir.resolve("magic.bin");
        byte[] wrong = bytes.clone();
        wrong[0] = 'X';
        Files.write(magic, wrong);
        assertThatThrownBy(() -> ModulationFile.load(magic)).isInstanceOf(IOException.class)
                .hasMessageContaining(magic.toString()).hasMessageContaining("not a LexSemBridge modulation file");

        Path version = dir.resolve("version.bin");
        byte[] v3 = bytes.clone();
        ByteBuffer.wrap(v3).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 3);
        Files.write(version, v3);
        assertThatThrownBy(() -> ModulationFile.load(version)).isInstanceOf(IOException.class)
                .hasMessageContaining(version.toString()).hasMessageContaining("format version 3");

        Path sizes = dir.resolve("sizes.bin");
        byte[] neg = bytes.clone();
        ByteBuffer.wrap(neg).order(ByteOrder.LITTLE_ENDIAN).putInt(12, -8);
        Files.write(sizes, neg);
        assertThatThrownBy(() -> ModulationFile.load(sizes)).isInstanceOf(IOException.class)
                .hasMessageContaining(sizes.toString()).hasMessageContaining("impossible sizes");

        Path longer = dir.resolve("longer.bin");
        Files.write(longer, Arrays.copyOf(bytes, bytes.length + 4));
        assertThatThrownBy(() -> ModulationFile.load(longer)).isInstanceOf(IOException.class)
                .hasMessageContaining(longer.toString()).hasMessageContaining("after the parameters");

        Path nan = dir.resolve("nan.bin");
        byte[] withNan = bytes.clone();
        ByteBuffer.wrap(withNan).order(ByteOrder.LITTLE_ENDIAN).putFloat(ModulationFile.HEADER_BYTES + 4 * 9, Float.NaN);
        Files.write(nan, withNan);
        assertThatThrownBy(() -> ModulationFile.load(nan)).isInstanceOf(IOException.class)
                .hasMessageContaining(nan.toString()).hasMessageContaining("W[1][1] is NaN");

        assertThatThrownBy(() -> ModulationFile.load(dir.resolve("missing.bin"))).isInstanceOf(IOException.class);
        assertThat(ModulationFile.load(file).w).containsExactly(m.w);
    }

    @Test
    void aFlippedByteAnywhereInASavedModulationIsRefusedNotLoadedAsOtherWeights(@TempDir Path dir) throws IOException {
        LexSemModulation m = LexSemModulationTest.randomModulation(new SplittableRandom(SEED + 4), 20, 8, 1);
        Path file = dir.resolve("lexsem.bin");
        ModulationFile.save(m, file);
        byte[] bytes = Files.readAllBytes(file);
        for (int at : new int[] {bytes.length / 2, 40, bytes.length - 20, bytes.length - 2}) {
            byte[] flipped = bytes.clone();
            flipped[at] ^= 0x01; // one bit of a weight: the unframed format had no way to see it
            Files.write(file, flipped);
            assertThatThrownBy(() -> ModulationFile.load(file)).as("byte %d", at)
                    .isInstanceOf(CorruptFileException.class);
        }
        Path old = dir.resolve("old.bin");
        ModulationFile.saveUnframed(m, old);
        assertThat(ModulationFile.load(old).w).containsExactly(m.w);
    }
}
