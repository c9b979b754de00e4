package dev.attend.recsys.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** The serving path (one top-K call for all candidates on the gpu Scorer) against the training path, candidate by candidate. */
class SequenceModelScoreTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("SequenceModelScoreTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @ParameterizedTest
    @CsvSource({"DARE, 0", "TWIN, 0", "DIN, 0", "DARE, 9", "TWIN, 9"})
    void scoringManyCandidatesEqualsTheForwardPassOfEach(ModelConfig.Kind kind, int positionBuckets) {
        SplittableRandom rnd = new SplittableRandom(SEED + 31);
        int da = kind == ModelConfig.Kind.DARE ? 8 : 16;
        SequenceModel m = new SequenceModel(new ModelConfig(kind, da, 16, 10, new int[] {24, 12}, positionBuckets), 300, 12, 5);
        int n = 500;
        int[] items = new int[n];
        int[] cats = new int[n];
        for (int j = 0; j < n; j++) {
            items[j] = 1 + rnd.nextInt(300);
            cats[j] = 1 + rnd.nextInt(12);
        }
        int[] candidates = new int[64];
        int[] candidateCats = new int[64];
        for (int i = 0; i < candidates.length; i++) {
            candidates[i] = i == 0 ? 0 : 1 + rnd.nextInt(300); // 0: an unknown item (cold start: zero embeddings)
            candidateCats[i] = 1 + rnd.nextInt(12);
        }
        try (Scorer scorer = Scorers.create("simd")) {
            SequenceModel.Scores scores = m.score(items, cats, candidates, candidateCats, scorer);
            for (int i = 0; i < candidates.length; i++) {
                SequenceModel.Forward f = m.forward(items, cats, 0, n, candidates[i], candidateCats[i]);
                assertThat(scores.logits()[i]).as("candidate " + i).isCloseTo(f.logit, within(1e-4f));
                assertThat(scores.selected()[i]).hasSize(kind == ModelConfig.Kind.DIN ? n : 10);
            }
            // No history: every candidate is scored from its own embeddings alone.
            SequenceModel.Scores empty = m.score(new int[0], new int[0], candidates, candidateCats, scorer);
            assertThat(empty.logits()[3]).isCloseTo(m.forward(new int[0], new int[0], 0, 0, candidates[3], candidateCats[3]).logit,
                    within(1e-5f));
        }
    }
}
