package dev.attend.recsys.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class PlantedBehaviorsTest {

    static PlantedBehaviors.Config small() {
        return new PlantedBehaviors.Config(300, 500, 20, 60, 100, 3, 0.8, 8, 0.3, 3, 50, 6, 4.0, -0.5, 13);
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
        for (int i = 1; i <= 500; i++) {
            assertThat(a.relevance(i)).containsExactly(b.relevance(i));
            assertThat(a.contribution(i)).containsExactly(b.contribution(i));
        }
        for (int i = 0; i < a.impressions().size(); i++) {
            PlantedBehaviors.Impression x = a.impressions().get(i);
            assertThat(x.sample()).isEqualTo(b.impressions().get(i).sample());
            assertThat(x.relevantPositions()).containsExactly(b.impressions().get(i).relevantPositions());
            Sample s = x.sample();
            assertThat(s.historyLength()).isEqualTo(50);
            assertThat(x.relevantPositions()).hasSize(3).doesNotHaveDuplicates();
            for (int p : x.relevantPositions()) {
                assertThat(p).isBetween(s.historyFrom(), s.historyTo() - 1);
            }
            assertThat(x.relevantPositions()).containsExactly(a.mostRelevant(s, 3));
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
        PlantedBehaviors flat = PlantedBehaviors.generate(small().withUsers(2000).withGain(0).withSeed(3));
        double rate = flat.impressions().stream().mapToDouble(i -> i.sample().label()).average().orElseThrow();
        assertThat(rate).isCloseTo(1 / (1 + Math.exp(0.5)), within(0.02));
        // With it, the planted logit is the one the labels were drawn from: it ranks them far better than chance.
        PlantedBehaviors p = PlantedBehaviors.generate(small().withUsers(2000));
        double clicked = 0;
        double skipped = 0;
        int clicks = 0;
        for (PlantedBehaviors.Impression i : p.impressions()) {
            double logit = p.logit(i.sample(), i.relevantPositions());
            if (i.sample().label() > 0.5f) {
                clicked += logit;
                clicks++;
            } else {
                skipped += logit;
            }
        }
        assertThat(clicked / clicks - skipped / (p.impressions().size() - clicks)).isGreaterThan(1.0);
    }

    @Test
    void relevanceAndContributionAreIndependentItemFactorsAndTheCategoryHoldsItsShareOfRelevance() {
        PlantedBehaviors p = PlantedBehaviors.generate(small().withItems(4000, 20).withUsers(10));
        int dim = p.config().factorDim();
        // Correlation of two items' factors, same category vs different categories.
        double relSame = 0;
        double relOther = 0;
        double conSame = 0;
        double relCon = 0;
        int pairs = 0;
        for (int i = 1; i + 20 <= 4000; i += 2) { // item i and i + 20 share a category; i and i + 1 do not
            relSame += dot(p.relevance(i), p.relevance(i + 20));
            relOther += dot(p.relevance(i), p.relevance(i + 1));
            conSame += dot(p.contribution(i), p.contribution(i + 20));
            relCon += dot(p.relevance(i), p.contribution(i));
            pairs++;
        }
        // Same category: E[a_i . a_j] = rho * dim; contribution has no category part, and no link to relevance.
        assertThat(relSame / pairs).isCloseTo(0.3 * dim, within(0.3 * dim * 0.5));
        assertThat(Math.abs(relOther / pairs)).isLessThan(0.3);
        assertThat(Math.abs(conSame / pairs)).isLessThan(0.05);
        assertThat(Math.abs(relCon / pairs)).isLessThan(0.1);
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int d = 0; d < a.length; d++) {
            s += a[d] * b[d];
        }
        return s;
    }
}
