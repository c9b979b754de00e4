package dev.attend.recsys.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.SampleProtocol;
import dev.attend.recsys.data.Samples;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.eval.Evaluation;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TrainerTest {

    static final long SEED = Long.getLong("attend.test.seed", 29);

    @BeforeAll
    static void printSeed() {
        System.out.println("TrainerTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    /** Users who mostly act within one favourite category of ten: the next item's category is in their history. */
    static List<BehaviorEvent> planted(int users, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<BehaviorEvent> out = new ArrayList<>();
        for (int u = 0; u < users; u++) {
            int favourite = rnd.nextInt(10);
            int n = 20 + rnd.nextInt(20);
            for (int t = 0; t < n; t++) {
                int category = rnd.nextDouble() < 0.85 ? favourite : rnd.nextInt(10);
                int item = category * 30 + rnd.nextInt(30);
                out.add(new BehaviorEvent(u, item, category, "pv", 1000L + t));
            }
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(ModelConfig.Kind.class)
    void trainingLowersTheLossAndRanksTheHeldOutNextItem(ModelConfig.Kind kind) throws Exception {
        UserSequences data = UserSequences.of(planted(400, SEED));
        Samples samples = Samples.cut(data, SampleProtocol.defaults().withHistoryLength(50).withTrainTargets(10).withSeed(SEED));
        int da = kind == ModelConfig.Kind.DARE ? 8 : 16;
        SequenceModel model = new SequenceModel(new ModelConfig(kind, da, 16, 10, new int[] {32, 16}), data.items(), data.categories(),
                SEED);
        Evaluation before = Evaluation.of(model, data, samples.test());
        List<Double> steps = new ArrayList<>();
        double[] losses = Trainer.train(model, data, samples.train(), Trainer.Options.defaults().withEpochs(4).withThreads(2)
                .withLearningRate(3e-3f).withSeed(SEED), (epoch, done, total, loss) -> steps.add(loss));
        Evaluation after = Evaluation.of(model, data, samples.test());
        assertThat(steps).isNotEmpty();
        assertThat(losses[losses.length - 1]).as("seed " + SEED).isLessThan(losses[0]);
        assertThat(after.auc()).as("seed %d: test AUC before %.3f, after %.3f", SEED, before.auc(), after.auc()).isGreaterThan(0.75);
        assertThat(after.logloss()).isLessThan(before.logloss());
    }
}
