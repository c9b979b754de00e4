package dev.attend.server.cli;

import dev.attend.broker.EventStreaming;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.gpu.SharedData;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.Imported;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.PlantedBehaviors;
import dev.attend.recsys.data.Sample;
import dev.attend.recsys.data.SampleProtocol;
import dev.attend.recsys.data.Samples;
import dev.attend.recsys.data.TaobaoImporter;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.eval.Evaluation;
import dev.attend.recsys.eval.Popularity;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.recsys.model.Trainer;
import dev.attend.recsys.serving.Recommender;
import dev.attend.streaming.SequenceStream;
import dev.attend.streaming.StreamEvent;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.streams.state.HostInfo;

/**
 * The demo's recommendation step: DARE trained on the Taobao sample (or, without the shared data, on a small
 * planted synthetic set), measured against popularity, then serving one user whose behaviours stream through Kafka
 * (a broker in this process, the sequence topology): their latest behaviours, the top recommendations, the
 * behaviours the best one's search kept with their attention weights, and how new events on the stream change
 * the recommendations.
 */
final class RecommendationDemo {

    private RecommendationDemo() {
    }

    /** What the walkthrough over HTTP serves again: the trained model and catalog, and the user shown with their behaviours. */
    record Trained(SequenceModel model, ItemCatalog catalog, long user, List<BehaviorEvent> behaviours) {
    }

    static Trained run(PrintStream out) throws Exception {
        Optional<Path> taobao = SharedData.resolve("recsys/taobao-sample/UserBehavior.csv");
        UserSequences data;
        List<Sample> train;
        List<Sample> test;
        if (taobao.isPresent()) {
            Imported imported = TaobaoImporter.read(taobao.get());
            data = UserSequences.of(imported.events());
            Samples samples = Samples.cut(data, SampleProtocol.defaults());
            train = samples.train();
            test = samples.test();
            out.printf(Locale.ROOT, "== Recommendation (DARE) on the Taobao sample %s: %,d users, %,d items, %,d behaviours%n", taobao.get(),
                    data.users(), data.items(), data.events());
            out.println("  (114 users: too few to tell models apart; the demo shows the engine working, bench/RESULTS.md compares models)");
        } else {
            PlantedBehaviors planted = PlantedBehaviors.generate(PlantedBehaviors.Config.defaults().withUsers(2_000).withEvents(200, 400)
                    .withItems(2_000, 50));
            data = planted.sequences();
            List<List<PlantedBehaviors.Impression>> split = planted.splitByUser(0.8);
            train = split.get(0).stream().map(PlantedBehaviors.Impression::sample).toList();
            test = split.get(2).stream().map(PlantedBehaviors.Impression::sample).toList();
            out.printf(Locale.ROOT, "== Recommendation (DARE) on generated data (no ../shared/data here): a planted synthetic set of %,d users, "
                    + "%,d items, %,d behaviours, clicks driven by a few relevant past behaviours%n", data.users(), data.items(), data.events());
        }
        SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 16, 32, 20, new int[] {200, 80}), data.items(),
                data.categories(), 1);
        long t0 = System.nanoTime();
        Trainer.train(model, data, train, Trainer.Options.defaults().withEpochs(2), (epoch, done, total, loss) -> { });
        double seconds = (System.nanoTime() - t0) / 1e9;
        Evaluation dare = Evaluation.of(model, data, test);
        Evaluation popularity = Popularity.fit(data, train).evaluate(test);
        out.printf(Locale.ROOT, "  trained on %,d samples in %.1f s; test AUC %.3f (GAUC by user %.3f) against %.3f for popularity%n",
                train.size(), seconds, dare.auc(), dare.gaucByUser(), popularity.auc());

        ItemCatalog catalog = data.catalog();
        int user = 0;
        for (int u = 1; u < data.users(); u++) {
            user = data.itemsOf(u).length > data.itemsOf(user).length ? u : user;
        }
        long userId = data.userId(user);
        Path streamDir = Files.createTempDirectory("attend-demo-events");
        out.println("  starting the event stream: a Kafka broker in this process and the sequence topology (Kafka Streams) ...");
        try (Scorer scorer = Scorers.create("auto");
             EventStreaming streaming = EventStreaming.start(null, streamDir, new HostInfo("localhost", 1), SequenceStream.DEFAULT_MAX_PER_USER);
             Recommender recommender = new Recommender(model, catalog, streaming.sequences(), scorer, Recommender.Options.defaults())) {
            List<StreamEvent> events = new ArrayList<>();
            int[] items = data.itemsOf(user);
            int[] categories = data.categoriesOf(user);
            long[] times = data.timesOf(user);
            for (int j = 0; j < items.length; j++) {
                events.add(new StreamEvent(new BehaviorEvent(userId, data.itemId(items[j]), data.categoryId(categories[j]), "pv", times[j])));
            }
            Trained trained = new Trained(model, catalog, userId, events.stream().map(StreamEvent::behavior).toList());
            long visible = send(streaming, events, userId);
            out.printf(Locale.ROOT, "  user %d: %,d behaviours streamed through Kafka (in the store %d ms after the send), the latest "
                    + "(item/category):", userId, items.length, visible);
            for (int j = Math.max(0, items.length - 6); j < items.length; j++) {
                out.printf(Locale.ROOT, " %d/%d", data.itemId(items[j]), data.categoryId(categories[j]));
            }
            out.println();
            recommender.prepareCandidates(); // the item index, as a server builds it at start
            recommender.recommend(userId, 5, true); // warm-up
            long s0 = System.nanoTime();
            List<Recommender.Scored> top = recommender.recommend(userId, 5, true);
            out.printf(Locale.ROOT, "  top 5 of %,d candidates taken from the item index and scored (%.1f ms):%n",
                    recommender.options().candidates(), (System.nanoTime() - s0) / 1e6);
            for (Recommender.Scored s : top) {
                out.printf(Locale.ROOT, "    item %-10d category %-9d click probability %.3f%n", s.item(), s.category(), s.probability());
            }
            Recommender.Explanation why = recommender.explain(userId, top.get(0).item(), null);
            out.printf(Locale.ROOT, "  why item %d: its search kept %d of %,d behaviours; the heaviest:%n", top.get(0).item(),
                    why.behaviors().size(), why.historyLength());
            for (Recommender.Behavior b : why.behaviors().subList(0, Math.min(5, why.behaviors().size()))) {
                out.printf(Locale.ROOT, "    #%-5d item %-10d category %-9d weight %.3f%n", b.position(), b.item(), b.category(), b.weight());
            }

            // New events on the stream: the user now looks at the catalog's busiest category they had not seen.
            Set<Long> seen = new HashSet<>();
            for (int c : categories) {
                seen.add(data.categoryId(c));
            }
            int[] views = new int[data.categories() + 1];
            for (int u = 0; u < data.users(); u++) {
                for (int c : data.categoriesOf(u)) {
                    views[c]++;
                }
            }
            int fresh = -1;
            for (int c = 1; c <= data.categories(); c++) {
                if (!seen.contains(data.categoryId(c)) && (fresh < 0 || views[c] > views[fresh])) {
                    fresh = c;
                }
            }
            if (fresh < 0) {
                out.println();
                return trained;
            }
            List<StreamEvent> now = new ArrayList<>();
            long t = times[times.length - 1];
            long probe = -1; // an item of that category the new views leave out: how its score moves
            for (int i = 1; i <= data.items() && (now.size() < 15 || probe < 0); i++) {
                if (data.categoryOf(i) == fresh) {
                    if (now.size() < 15) {
                        now.add(new StreamEvent(new BehaviorEvent(userId, data.itemId(i), data.categoryId(fresh), "pv", ++t)));
                    } else {
                        probe = data.itemId(i);
                    }
                }
            }
            float probeBefore = probe < 0 ? Float.NaN : recommender.score(userId, new long[] {probe}, null).get(0).probability();
            visible = send(streaming, now, userId);
            out.printf(Locale.ROOT, "  %d new views of category %d streamed (in the store %d ms after the send); top 5 now:%n", now.size(),
                    data.categoryId(fresh), visible);
            Set<Long> before = new HashSet<>();
            for (Recommender.Scored s : top) {
                before.add(s.item());
            }
            int changed = 0;
            for (Recommender.Scored s : recommender.recommend(userId, 5, true)) {
                boolean isNew = !before.contains(s.item());
                changed += isNew ? 1 : 0;
                out.printf(Locale.ROOT, "    item %-10d category %-9d click probability %.3f%s%n", s.item(), s.category(), s.probability(),
                        isNew ? "   (new)" : "");
            }
            if (probe >= 0) {
                out.printf(Locale.ROOT, "  %d of the 5 are new; item %d of category %d (not among the views): click probability %.3f -> %.3f%n",
                        changed, probe, data.categoryId(fresh), probeBefore,
                        recommender.score(userId, new long[] {probe}, null).get(0).probability());
            }
            out.println();
            return trained;
        } finally {
            deleteTree(streamDir);
        }
    }

    /** Sends events of one user and waits until the store shows them; returns the milliseconds that took. */
    private static long send(EventStreaming streaming, List<StreamEvent> events, long user) throws InterruptedException {
        long target = streaming.sequences().version(user) + events.size(); // each event new: one version each
        long t0 = System.nanoTime();
        streaming.producer().send(events);
        long deadline = t0 + 60_000_000_000L;
        while (streaming.sequences().version(user) < target && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static void deleteTree(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary directory left behind
        }
    }
}
