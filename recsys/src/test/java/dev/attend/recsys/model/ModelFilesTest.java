package dev.attend.recsys.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.UnsupportedFormatException;
import dev.attend.recsys.data.SampleProtocol;
import dev.attend.recsys.data.Samples;
import dev.attend.recsys.data.UserSequences;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {

    private static void assertSameParameters(SequenceModel a, SequenceModel b) {
        List<float[]> pa = a.parameters();
        List<float[]> pb = b.parameters();
        assertThat(pb).hasSameSizeAs(pa);
        for (int i = 0; i < pa.size(); i++) {
            assertThat(pb.get(i)).as("block " + i).containsExactly(pa.get(i));
        }
    }

    @Test
    void aSavedModelLoadsBackBitForBitAndABadFileIsRefused(@TempDir Path dir) throws Exception {
        SequenceModel m = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 16, 64, 20, new int[] {200, 80}, 17), 50, 7, 3);
        Path file = dir.resolve("model.bin");
        ModelFiles.save(m, file);
        SequenceModel back = ModelFiles.load(file);
        assertThat(back.config()).isEqualTo(m.config());
        assertSameParameters(m, back);
        int[] items = {1, 5, 9, 3};
        int[] cats = {1, 2, 3, 1};
        assertThat(back.probability(items, cats, 0, 4, 7, 2)).isEqualTo(m.probability(items, cats, 0, 4, 7, 2));
        Files.write(dir.resolve("junk.bin"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        assertThatThrownBy(() -> ModelFiles.load(dir.resolve("junk.bin"))).isInstanceOf(IOException.class)
                .hasMessageContaining("not an Attend sequence model");
    }

    @Test
    void anInterruptedTrainingResumesFromItsCheckpointToTheSameWeights(@TempDir Path dir) throws Exception {
        UserSequences data = UserSequences.of(TrainerTest.planted(120, 5));
        Samples s = Samples.cut(data, SampleProtocol.defaults().withHistoryLength(30));
        ModelConfig config = new ModelConfig(ModelConfig.Kind.DARE, 4, 8, 5, new int[] {16});
        Trainer.Options three = Trainer.Options.defaults().withEpochs(3).withThreads(2).withSeed(7);

        SequenceModel straight = new SequenceModel(config, data.items(), data.categories(), 11);
        Trainer.train(straight, data, s.train(), three, (e, d, t, l) -> { });

        Path checkpoint = dir.resolve("train.ckpt");
        SequenceModel first = new SequenceModel(config, data.items(), data.categories(), 11);
        Trainer.train(first, data, s.train(), three.withEpochs(1), (e, d, t, l) -> { }, checkpoint); // "interrupted" after epoch 1
        SequenceModel resumed = new SequenceModel(config, data.items(), data.categories(), 99); // other initial weights
        double[] losses = Trainer.train(resumed, data, s.train(), three, (e, d, t, l) -> { }, checkpoint);
        assertThat(losses[0]).isNaN(); // done before the interruption
        assertThat(losses[2]).isFinite();
        assertSameParameters(straight, resumed);

        SequenceModel other = new SequenceModel(new ModelConfig(ModelConfig.Kind.TWIN, 8, 8, 5, new int[] {16}), data.items(),
                data.categories(), 1);
        assertThatThrownBy(() -> Trainer.train(other, data, s.train(), three, (e, d, t, l) -> { }, checkpoint))
                .hasMessageContaining("another model");
    }

    private static SequenceModel small() {
        return new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 8, 16, 5, new int[] {12}, 5), 40, 6, 9);
    }

    private static void flip(Path file, long at) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x10);
        }
    }

    @Test
    void aFlippedByteAnywhereInModelBinIsRefusedBeforeAWeightIsRead(@TempDir Path dir) throws Exception {
        SequenceModel m = small();
        Path file = dir.resolve("model.bin");
        ModelFiles.save(m, file);
        long size = Files.size(file);
        for (long at : new long[] {size / 2, size / 3, size - 30, 40}) {
            ModelFiles.save(m, file);
            flip(file, at);
            assertThatThrownBy(() -> ModelFiles.load(file)).as("byte %d of %d flipped", at, size).isInstanceOf(CorruptFileException.class);
        }
        ModelFiles.save(m, file);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size - 100);
        }
        assertThatThrownBy(() -> ModelFiles.load(file)).isInstanceOf(CorruptFileException.class);
    }

    @Test
    void aVersion2FileWithoutAChecksumStillLoads(@TempDir Path dir) throws Exception {
        SequenceModel m = small();
        Path framed = dir.resolve("new.bin");
        ModelFiles.save(m, framed);
        byte[] payload;
        try (DurableFile.Reader r = DurableFile.open(framed, ModelFiles.CODEC, ModelFiles.FORMAT_VERSION, ModelFiles.FORMAT_VERSION)) {
            payload = r.in().readNBytes((int) r.payloadBytes());
        }
        Path old = dir.resolve("old.bin"); // what the previous build wrote: magic, version 2, the same payload
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(old))) {
            out.writeLong(0x415454454E44534DL);
            out.writeInt(2);
            out.write(payload);
        }
        assertThat(DurableFile.isFramed(old)).isFalse();
        assertSameParameters(m, ModelFiles.load(old));
        ModelFiles.save(ModelFiles.load(old), old); // saved again: framed, checked
        assertThat(DurableFile.isFramed(old)).isTrue();
        assertSameParameters(m, ModelFiles.load(old));
    }

    @Test
    void loadOrQuarantineMovesADamagedModelAsideAndReportsIt(@TempDir Path dir) throws Exception {
        SequenceModel m = small();
        Path file = dir.resolve("model.bin");
        ModelFiles.save(m, file);
        assertThat(ModelFiles.loadOrQuarantine(file, dir)).isNotNull();
        flip(file, Files.size(file) / 2);
        assertThat(ModelFiles.loadOrQuarantine(file, dir)).isNull();
        assertThat(file).doesNotExist();
        try (var s = Files.list(dir.resolve(Quarantine.DIR))) {
            assertThat(s.map(p -> p.getFileName().toString())).anyMatch(n -> n.endsWith("-model.bin"));
        }
        assertThat(DamageLog.under(dir)).anySatisfy(d -> {
            assertThat(d.store()).isEqualTo(ModelFiles.STORE);
            assertThat(d.reason()).contains("checksum");
        });
    }

    @Test
    void anIntactModelOfAnotherVersionOrThatThisBuildCannotParseIsLeftInPlaceAndReportedNotQuarantined(@TempDir Path dir) throws Exception {
        SequenceModel m = small();
        Path file = dir.resolve("model.bin");
        ModelFiles.save(m, file);
        byte[] payload;
        try (DurableFile.Reader r = DurableFile.open(file, ModelFiles.CODEC, ModelFiles.FORMAT_VERSION, ModelFiles.FORMAT_VERSION)) {
            payload = r.in().readNBytes((int) r.payloadBytes());
        }
        // A newer build's model: intact, version 4.
        DurableFile.write(file, ModelFiles.CODEC, ModelFiles.FORMAT_VERSION + 1, out -> out.write(payload));
        byte[] newer = Files.readAllBytes(file);
        assertThatThrownBy(() -> ModelFiles.load(file)).isInstanceOf(UnsupportedFormatException.class);
        ModelFiles.Loaded loaded = ModelFiles.loadReporting(file, dir);
        assertThat(loaded.saved()).isNull();
        assertThat(loaded.leftInPlace()).isTrue();
        assertThat(loaded.quarantined()).isFalse();
        assertThat(loaded.damage().quarantinedTo()).isNull();
        assertThat(loaded.damage().reason()).contains("version " + (ModelFiles.FORMAT_VERSION + 1)).contains("left in place");
        assertThat(ModelFiles.loadOrQuarantine(file, dir)).isNull();
        assertThat(Files.readAllBytes(file)).isEqualTo(newer);
        assertThat(dir.resolve(Quarantine.DIR)).doesNotExist();

        // This version, intact (the checksum holds), but a model kind this build does not know: not damage either.
        DurableFile.write(file, ModelFiles.CODEC, ModelFiles.FORMAT_VERSION, out -> {
            out.writeUTF("FUTURE_KIND");
            out.write(payload, 2 + ((payload[0] & 0xff) << 8 | (payload[1] & 0xff)), 100);
        });
        byte[] unknown = Files.readAllBytes(file);
        ModelFiles.Loaded kind = ModelFiles.loadReporting(file, dir);
        assertThat(kind.leftInPlace()).isTrue();
        assertThat(kind.damage().reason()).contains("cannot parse");
        assertThat(Files.readAllBytes(file)).isEqualTo(unknown);
        assertThat(dir.resolve(Quarantine.DIR)).doesNotExist();
        assertThat(DamageLog.under(dir)).allSatisfy(d -> assertThat(d.quarantinedTo()).isNull()).hasSize(3);

        // Damage is still moved aside, and says so.
        ModelFiles.save(m, file);
        flip(file, Files.size(file) / 2);
        ModelFiles.Loaded damaged = ModelFiles.loadReporting(file, dir);
        assertThat(damaged.quarantined()).isTrue();
        assertThat(damaged.damage().quarantinedTo()).exists();
        assertThat(file).doesNotExist();
    }
}
