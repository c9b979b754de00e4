package dev.attend.recsys.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.recsys.data.SampleProtocol;
import dev.attend.recsys.data.Samples;
import dev.attend.recsys.data.UserSequences;
import java.io.IOException;
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
}
