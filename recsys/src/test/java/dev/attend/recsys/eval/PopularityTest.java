package dev.attend.recsys.eval;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.SampleProtocol;
import dev.attend.recsys.data.Samples;
import dev.attend.recsys.data.UserSequences;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PopularityTest {

    @Test
    void scoresItemsByTheirTrainingCountsAndBeatsChanceWhenPopularityDrivesClicks() {
        List<BehaviorEvent> events = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(4);
        for (int u = 0; u < 300; u++) {
            for (int t = 0; t < 12; t++) {
                // Item i is drawn with weight 1 / i: a few items dominate.
                int item = (int) Math.floor(Math.pow(200, rnd.nextDouble())) + 1;
                events.add(new BehaviorEvent(u, item, item % 7, "pv", t));
            }
        }
        UserSequences data = UserSequences.of(events);
        Samples s = Samples.cut(data, SampleProtocol.defaults());
        Popularity p = Popularity.fit(data, s.train());
        assertThat(p.score(0)).isZero();
        assertThat(p.score(data.itemIndex(2))).isEqualTo(1f); // the most frequent item (floor(200^x) + 1 = 2 for x < 0.13)
        // Negatives are drawn by frequency too, so popularity separates little: above chance, well below 1.
        assertThat(p.evaluate(s.test()).auc()).isBetween(0.5, 0.8);
    }
}
