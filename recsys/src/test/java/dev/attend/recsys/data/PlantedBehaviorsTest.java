package dev.attend.recsys.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class PlantedBehaviorsTest {

    static PlantedBehaviors.Config small() {
        return new PlantedBehaviors.Config(300, 500, 20, 60, 100, 3, 0.8, 8, 3, 50, 6, 4.0, -0.5, 13);
    }

    @Test
    void generationIsReproducibleAndShapedAsConfigured() {
        PlantedBehaviors a = PlantedBehaviors.generate(small());
        PlantedBehaviors b = PlantedBehaviors.generate(small());
        assertThat(a.sequences().users()).isEqualTo(300);
        assertThat(a.impressions()).hasSize(300 * 6);
        for (int u = 0; u < 300; u++) {
            assertThat(a.sequences().itemsOf(u)).containsExactly(b.sequences().itemsOf(u));
            assertThat(a.sequences().itemsOf(u).length).isBetween(60, 100);
            long[] t = a.sequences().timesOf(u);
            for (int j = 1; j < t.length; j++) {
                assertThat(t[j]).isGreaterThan(t[j - 1]);
            }
        }
        for (int i = 0; i < a.impressions().size(); i++) {
            PlantedBehaviors.Impression x = a.impressions().get(i);
            assertThat(x.sample()).isEqualTo(b.impressions().get(i).sample());
            Sample s = x.sample();
            assertThat(s.historyLength()).isEqualTo(50);
            assertThat(x.relevantPositions()).hasSize(3);
            for (int p : x.relevantPositions()) {
                assertThat(p).isBetween(s.historyFrom(), s.historyTo() - 1);
            }
            assertThat(s.category()).isEqualTo(a.sequences().categoryOf(s.item()));
        }
        assertThat(PlantedBehaviors.generate(small().withSeed(14)).impressions().get(0).sample())
                .isNotEqualTo(a.impressions().get(0).sample());
        List<List<PlantedBehaviors.Impression>> split = a.splitByUser(0.8);
        assertThat(split.get(0)).hasSize(240 * 6);
        assertThat(split.get(1)).hasSize(30 * 6);
        assertThat(split.get(2)).hasSize(30 * 6);
    }

    @Test
    void theRelevantBehavioursAreTheTopByTheRelevanceFactorAndDriveTheClickRate() {
        float[][] relevance = {null, {1, 0}, {0, 1}, {0.5f, 0.5f}, {2, 0}};
        int[] items = {1, 2, 3, 4, 1};
        assertThat(PlantedBehaviors.mostRelevant(items, 0, 5, relevance, new float[] {1, 0}, 3)).containsExactly(3, 4, 0);
        assertThat(PlantedBehaviors.mostRelevant(items, 1, 4, relevance, new float[] {0, 1}, 2)).containsExactly(1, 2);
        // Without the contribution term every click has probability sigmoid(bias).
        PlantedBehaviors.Config c = small();
        PlantedBehaviors flat = PlantedBehaviors.generate(new PlantedBehaviors.Config(2000, c.items(), c.categories(), c.minEvents(),
                c.maxEvents(), c.interests(), c.focus(), c.factorDim(), c.relevant(), c.window(), c.impressions(), 0.0, -0.5, 3));
        double rate = flat.impressions().stream().mapToDouble(i -> i.sample().label()).average().orElseThrow();
        assertThat(rate).isCloseTo(1 / (1 + Math.exp(0.5)), within(0.02));
    }
}
