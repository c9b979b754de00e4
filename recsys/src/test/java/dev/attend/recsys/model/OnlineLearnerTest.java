package dev.attend.recsys.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.eval.Metrics;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnlineLearnerTest {

    static final long SEED = Long.getLong("attend.test.seed", 29);

    @BeforeAll
    static void printSeed() {
        System.out.println("OnlineLearnerTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    /** Replays {@code stream} (time order) through a learner; returns each event's outcome. */
    static List<OnlineLearner.Outcome> replay(OnlineLearner learner, ItemCatalog catalog, List<BehaviorEvent> stream) {
        Map<Long, List<int[]>> histories = new HashMap<>();
        List<OnlineLearner.Outcome> out = new ArrayList<>();
        for (BehaviorEvent e : stream) {
            List<int[]> h = histories.computeIfAbsent(e.user(), u -> new ArrayList<>());
            int[] items = h.stream().mapToInt(x -> x[0]).toArray();
            int[] categories = h.stream().mapToInt(x -> x[1]).toArray();
            out.add(learner.observe(items, categories, e.item(), e.category()));
            int item = catalog.itemIndex(e.item());
            h.add(new int[] {item, catalog.categoryOf(item)});
        }
        return out;
    }

    static double auc(List<OnlineLearner.Outcome> outcomes, int from, int to) {
        List<Float> s = new ArrayList<>();
        List<Float> l = new ArrayList<>();
        for (OnlineLearner.Outcome o : outcomes.subList(from, to)) {
            for (int x = 0; x < o.logits().length; x++) {
                s.add(o.logits()[x]);
                l.add(o.labels()[x]);
            }
        }
        float[] scores = new float[s.size()];
        float[] labels = new float[s.size()];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = s.get(i);
            labels[i] = l.get(i);
        }
        return Metrics.auc(scores, labels);
    }

    /** The planted users of TrainerTest, interleaved in time: each acts mostly within a favourite category. */
    static List<BehaviorEvent> stream(int users) {
        List<BehaviorEvent> events = new ArrayList<>(TrainerTest.planted(users, SEED));
        events.sort(Comparator.comparingLong(BehaviorEvent::time).thenComparingLong(BehaviorEvent::user));
        return events;
    }

    @Test
    void learnsFromTheStreamNewItemsIncluded() {
        List<BehaviorEvent> events = stream(300);
        // the model starts from the first user's events only: nearly every item and category arrives online
        List<BehaviorEvent> first = events.stream().filter(e -> e.user() == events.getFirst().user()).toList();
        UserSequences seed = UserSequences.of(first);
        ItemCatalog catalog = seed.catalog();
        int itemsBefore = catalog.items();
        SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 8, 16, 10, new int[] {32, 16}), catalog.items(),
                catalog.categories(), SEED);
        OnlineLearner learner = new OnlineLearner(model, catalog, OnlineLearner.Options.defaults().withLearningRate(3e-3f));
        List<OnlineLearner.Outcome> outcomes = replay(learner, catalog, events);

        long distinct = events.stream().mapToLong(BehaviorEvent::item).distinct().count();
        assertThat(catalog.items()).isEqualTo((int) distinct).isGreaterThan(itemsBefore);
        assertThat(model.items()).isEqualTo(catalog.items());
        assertThat(model.categories()).isEqualTo(catalog.categories());
        assertThat(learner.events()).isEqualTo(events.size());
        assertThat(learner.steps()).isEqualTo(events.size());
        int n = outcomes.size();
        double early = auc(outcomes, 0, n / 20);
        double late = auc(outcomes, 2 * n / 3, n);
        assertThat(late).as("prequential AUC, last third vs first 5%% (%.3f)", early).isGreaterThan(early + 0.1).isGreaterThan(0.8);
    }

    @Test
    void withoutStepsTheWeightsStayAndTheScoresAreTheFrozenModels(@TempDir Path dir) throws Exception {
        List<BehaviorEvent> events = stream(40);
        UserSequences all = UserSequences.of(events);
        SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 8, 16, 10, new int[] {32, 16}), all.catalog().items(),
                all.catalog().categories(), SEED);
        ModelFiles.save(model, all.catalog(), dir.resolve("m"));
        ModelFiles.Saved frozen = ModelFiles.loadWithCatalog(dir.resolve("m"));
        OnlineLearner learner = new OnlineLearner(model, all.catalog(), OnlineLearner.Options.defaults().withStepFraction(0));
        List<OnlineLearner.Outcome> outcomes = replay(learner, all.catalog(), events);
        assertThat(learner.steps()).isZero();
        assertThat(model.parameters()).zipSatisfy(frozen.model().parameters(), (a, b) -> assertThat(a).containsExactly(b));
        assertThat(outcomes).allSatisfy(o -> assertThat(o.stepped()).isFalse());
    }

    @Test
    void aGrownModelSavesAndLoadsWithItsGrownCatalog(@TempDir Path dir) throws Exception {
        List<BehaviorEvent> events = stream(60);
        UserSequences seed = UserSequences.of(events.subList(0, 5));
        ItemCatalog catalog = seed.catalog();
        SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 8, 16, 10, new int[] {32, 16}), catalog.items(),
                catalog.categories(), SEED);
        OnlineLearner learner = new OnlineLearner(model, catalog, OnlineLearner.Options.defaults());
        replay(learner, catalog, events);
        ModelFiles.save(model, catalog, dir.resolve("grown"));
        ModelFiles.Saved back = ModelFiles.loadWithCatalog(dir.resolve("grown"));
        assertThat(back.catalog().items()).isEqualTo(catalog.items());
        int item = catalog.itemIndex(events.getLast().item());
        assertThat(back.catalog().itemIndex(events.getLast().item())).isEqualTo(item);
        int[] h = {1, 2, 3};
        int[] c = {catalog.categoryOf(1), catalog.categoryOf(2), catalog.categoryOf(3)};
        assertThat(back.model().probability(h, c, 0, 3, item, catalog.categoryOf(item)))
                .isEqualTo(model.probability(h, c, 0, 3, item, catalog.categoryOf(item)));
    }

    @Test
    void badOptionsAndMismatchedCatalogsAreRefused() {
        assertThatThrownBy(() -> OnlineLearner.Options.defaults().withStepFraction(1.5)).hasMessageContaining("step fraction");
        assertThatThrownBy(() -> OnlineLearner.Options.defaults().withLearningRate(Float.NaN)).hasMessageContaining("learning rate");
        UserSequences data = UserSequences.of(stream(5));
        SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 8, 16, 10, new int[] {32, 16}), data.catalog().items() + 1,
                data.catalog().categories(), SEED);
        assertThatThrownBy(() -> new OnlineLearner(model, data.catalog(), OnlineLearner.Options.defaults())).hasMessageContaining("not the model's");
    }
}
