package dev.attend.recsys.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.SequenceModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecommenderTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("RecommenderTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    private static Scorer scorer;
    private static List<BehaviorEvent> events;
    private static ItemCatalog catalog;
    private static SequenceModel model;

    @BeforeAll
    static void setUp() {
        scorer = Scorers.create("simd");
        SplittableRandom rnd = new SplittableRandom(SEED + 17);
        events = new ArrayList<>();
        for (int u = 0; u < 30; u++) {
            for (int j = 0; j < 40 + rnd.nextInt(40); j++) {
                long item = 1000 + rnd.nextInt(200 + u); // item 1000 + k has category k % 9
                events.add(new BehaviorEvent(u, item, (item - 1000) % 9, "pv", 1_000_000 + j * 60L + rnd.nextInt(30)));
            }
        }
        UserSequences data = UserSequences.of(events);
        catalog = data.catalog();
        model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 8, 16, 5, new int[] {24, 12}), catalog.items(),
                catalog.categories(), 3);
    }

    @AfterAll
    static void tearDown() {
        scorer.close();
    }

    private static BehaviorSequenceStore storeWithEvents() throws Exception {
        BehaviorSequenceStore store = BehaviorSequenceStore.inMemory(1000);
        store.append(events);
        return store;
    }

    /** The model's own forward pass over the user's stored history, in dense ids. */
    private static float expected(BehaviorSequenceStore store, long user, long item) {
        BehaviorSequence s = store.get(user);
        int[] hi = new int[s.length()];
        int[] hc = new int[s.length()];
        for (int j = 0; j < hi.length; j++) {
            hi[j] = catalog.itemIndex(s.items()[j]);
            hc[j] = catalog.categoryIndex(s.categories()[j]);
        }
        int t = catalog.itemIndex(item);
        return model.probability(hi, hc, 0, hi.length, t, catalog.categoryOf(t));
    }

    @Test
    void scoresAreTheModelsProbabilitiesAfterTheStoredHistoryAndFollowNewEvents() throws Exception {
        try (BehaviorSequenceStore store = storeWithEvents();
             Recommender r = new Recommender(model, catalog, store, scorer, Recommender.Options.defaults())) {
            long[] candidates = {1000, 1005, 1100, 1150, 99_999};
            List<Recommender.Scored> scored = r.score(4, candidates, null);
            for (int i = 0; i < 4; i++) {
                assertThat(scored.get(i).probability()).isCloseTo(expected(store, 4, candidates[i]), within(1e-5f));
                assertThat(scored.get(i).known()).isTrue();
                assertThat(scored.get(i).category()).isEqualTo((candidates[i] - 1000) % 9);
            }
            // an item the model has not seen: cold start from zero embeddings, reported as unknown
            assertThat(scored.get(4).known()).isFalse();
            assertThat(scored.get(4).category()).isEqualTo(-1);
            // new behaviours change the history (the cached keys are rebuilt) and so the scores
            store.append(List.of(new BehaviorEvent(4, 1100, 1, "buy", 2_000_000), new BehaviorEvent(4, 1150, 6, "buy", 2_000_001)));
            List<Recommender.Scored> after = r.score(4, candidates, null);
            for (int i = 0; i < 4; i++) {
                assertThat(after.get(i).probability()).isCloseTo(expected(store, 4, candidates[i]), within(1e-5f));
            }
            // candidate 1100's search now finds the behaviour on 1100 itself (its own key scores |q|^2)
            assertThat(r.explain(4, 1100, null).behaviors()).anyMatch(b -> b.item() == 1100 && b.time() == 2_000_000);
            // a history cut to its latest behaviours
            try (Recommender shortHistory = new Recommender(model, catalog, store, scorer, Recommender.Options.defaults().withHistoryLength(3))) {
                BehaviorSequence s = store.get(4);
                int n = s.length();
                int[] hi = new int[3];
                int[] hc = new int[3];
                for (int j = 0; j < 3; j++) {
                    hi[j] = catalog.itemIndex(s.items()[n - 3 + j]);
                    hc[j] = catalog.categoryIndex(s.categories()[n - 3 + j]);
                }
                int t = catalog.itemIndex(1005);
                assertThat(shortHistory.score(4, new long[] {1005}, null).get(0).probability())
                        .isCloseTo(model.probability(hi, hc, 0, 3, t, catalog.categoryOf(t)), within(1e-5f));
            }
            assertThatThrownBy(() -> r.score(4, new long[] {1000, 1001}, new long[] {1})).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void recommendReturnsUnseenItemsBestFirstAndPopularItemsToNewUsers() throws Exception {
        try (BehaviorSequenceStore store = storeWithEvents();
             Recommender r = new Recommender(model, catalog, store, scorer, Recommender.Options.defaults().withCandidates(50))) {
            List<Recommender.Scored> top = r.recommend(6, 10, true);
            assertThat(top).hasSize(10);
            Set<Long> seen = new HashSet<>();
            for (long item : store.get(6).items()) {
                seen.add(item);
            }
            for (int i = 0; i < top.size(); i++) {
                assertThat(seen).doesNotContain(top.get(i).item());
                assertThat(top.get(i).probability()).isCloseTo(expected(store, 6, top.get(i).item()), within(1e-5f));
                if (i > 0) {
                    assertThat(top.get(i).probability()).isLessThanOrEqualTo(top.get(i - 1).probability());
                }
            }
            // a user with no behaviours: the most popular items, scored by the model with an empty history
            List<Recommender.Scored> cold = r.recommend(12345, 5, true);
            assertThat(cold).hasSize(5);
            Set<Long> popular = new HashSet<>();
            for (int i : catalog.mostPopular(50)) {
                popular.add(catalog.itemId(i));
            }
            assertThat(popular).containsAll(cold.stream().map(Recommender.Scored::item).toList());
            assertThatThrownBy(() -> r.recommend(6, 0, true)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void explainGivesTheKeptBehavioursWithWeightsSummingToOne() throws Exception {
        try (BehaviorSequenceStore store = storeWithEvents();
             Recommender r = new Recommender(model, catalog, store, scorer, Recommender.Options.defaults())) {
            Recommender.Explanation e = r.explain(9, 1010, null);
            assertThat(e.behaviors()).hasSize(5);
            assertThat(e.historyLength()).isEqualTo(store.get(9).length());
            assertThat(e.scored().probability()).isCloseTo(expected(store, 9, 1010), within(1e-5f));
            double sum = 0;
            BehaviorSequence s = store.get(9);
            for (int i = 0; i < e.behaviors().size(); i++) {
                Recommender.Behavior b = e.behaviors().get(i);
                sum += b.weight();
                assertThat(s.items()[b.position()]).isEqualTo(b.item());
                assertThat(s.times()[b.position()]).isEqualTo(b.time());
                if (i > 0) {
                    assertThat(b.weight()).isLessThanOrEqualTo(e.behaviors().get(i - 1).weight());
                }
            }
            assertThat(sum).isCloseTo(1.0, within(1e-5));
            assertThat(r.explain(12345, 1010, null).behaviors()).isEmpty();
        }
    }

    @Test
    void aSavedModelWithItsCatalogServesTheSameScores(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("model.bin");
        ModelFiles.save(model, catalog, file);
        ModelFiles.Saved saved = ModelFiles.loadWithCatalog(file);
        assertThat(saved.catalog().items()).isEqualTo(catalog.items());
        try (BehaviorSequenceStore store = storeWithEvents();
             Recommender a = new Recommender(model, catalog, store, scorer, Recommender.Options.defaults());
             Recommender b = new Recommender(saved.model(), saved.catalog(), store, scorer, Recommender.Options.defaults())) {
            long[] items = {1000, 1003, 1042, 1111};
            List<Recommender.Scored> x = a.score(2, items, null);
            List<Recommender.Scored> y = b.score(2, items, null);
            for (int i = 0; i < items.length; i++) {
                assertThat(y.get(i)).isEqualTo(x.get(i));
            }
        }
        assertThatThrownBy(() -> ModelFiles.save(model, UserSequences.of(events.subList(0, 10)).catalog(), dir.resolve("x.bin")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("catalog");
    }
}
