package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.SequenceModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Online training from the events topic of a real broker, with the sequence topology beside it. */
class OnlineTrainingTest {

    /** The randomized inputs' seed: {@code -Dattend.test.seed=N} (0 unless set) added to each literal seed. */
    private static final long SEED = Long.getLong("attend.test.seed", 0L);

    @BeforeAll
    static void printSeed() {
        System.out.println("OnlineTrainingTest seed " + SEED);
    }


    @TempDir
    Path dir;

    /** Users who act mostly within a favourite category (of ten), interleaved in time. */
    static List<BehaviorEvent> planted(int users, long seed, long firstTime) {
        SplittableRandom rnd = new SplittableRandom(SEED + seed);
        List<BehaviorEvent> out = new ArrayList<>();
        for (int u = 0; u < users; u++) {
            int favourite = rnd.nextInt(10);
            int n = 15 + rnd.nextInt(15);
            for (int t = 0; t < n; t++) {
                int category = rnd.nextDouble() < 0.85 ? favourite : rnd.nextInt(10);
                out.add(new BehaviorEvent(u, 1 + category * 30 + rnd.nextInt(30), 1 + category, "pv", firstTime + t));
            }
        }
        out.sort(Comparator.comparingLong(BehaviorEvent::time).thenComparingLong(BehaviorEvent::user));
        return out;
    }

    static List<StreamEvent> wrap(List<BehaviorEvent> events) {
        return events.stream().map(StreamEvent::new).toList();
    }

    static void awaitEvents(OnlineTraining training, long n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (training.stats().events() < n && System.nanoTime() < deadline && training.failure() == null) {
            Thread.sleep(50);
        }
        assertThat(training.failure()).isNull();
        assertThat(training.stats().events()).isEqualTo(n);
    }

    @Test
    void learnsEveryEventGrowsTheCatalogSnapshotsAndResumesAfterTheLastCommit() throws Exception {
        EventTopics topics = EventTopics.defaults();
        List<BehaviorEvent> events = planted(120, 5, 1_000);
        // the model starts knowing one user's behaviours: nearly every item arrives with the stream
        UserSequences first = UserSequences.of(events.stream().filter(e -> e.user() == 0).toList());
        ItemCatalog catalog = first.catalog();
        int known = catalog.items();
        SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 8, 16, 10, new int[] {32, 16}), catalog.items(),
                catalog.categories(), 3);
        Path snapshot = dir.resolve("online.model");
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            SequenceStreamTest.createTopics(broker, topics);
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics,
                    new SequenceStream.Options("test-online", new HostInfo("localhost", 1), dir.resolve("state"), 1000, Duration.ofMillis(100)));
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
                assertThat(stream.awaitRunning(Duration.ofSeconds(60))).isTrue();
                OnlineTraining.Options options = OnlineTraining.Options.defaults("test", snapshot).withSnapshotInterval(Duration.ofMillis(300));
                try (OnlineTraining training = new OnlineTraining(broker.bootstrapServers(), topics, stream, model, catalog, options)) {
                    assertThat(training.awaitAssigned(Duration.ofSeconds(60))).isTrue();
                    producer.send(wrap(events));
                    producer.sendRaw("7".getBytes(), "{broken".getBytes());
                    awaitEvents(training, events.size());
                    OnlineTraining.Stats stats = training.stats();
                    assertThat(stats.steps()).isEqualTo(events.size());
                    assertThat(stats.prequentialAuc()).as("prequential AUC of the recent window").isGreaterThan(0.7);
                    long distinct = events.stream().mapToLong(BehaviorEvent::item).distinct().count();
                    assertThat(catalog.items()).isEqualTo((int) distinct).isGreaterThan(known);
                    assertThat(model.items()).isEqualTo(catalog.items());
                }
                ModelFiles.Saved saved = ModelFiles.loadWithCatalog(snapshot);
                assertThat(saved.catalog().items()).isEqualTo(catalog.items());
                int item = catalog.itemIndex(events.getLast().item());
                int[] h = {1, 2};
                int[] c = {catalog.categoryOf(1), catalog.categoryOf(2)};
                assertThat(saved.model().probability(h, c, 0, 2, item, catalog.categoryOf(item)))
                        .as("the last snapshot holds everything learned").isEqualTo(model.probability(h, c, 0, 2, item, catalog.categoryOf(item)));

                // a restart from the snapshot: the group resumes after the committed offsets, nothing learned twice
                List<BehaviorEvent> more = planted(10, 6, 5_000);
                try (OnlineTraining again = new OnlineTraining(broker.bootstrapServers(), topics, stream, saved.model(), saved.catalog(),
                        OnlineTraining.Options.defaults("test", snapshot))) {
                    assertThat(again.awaitAssigned(Duration.ofSeconds(60))).isTrue();
                    producer.send(wrap(more));
                    awaitEvents(again, more.size());
                    Thread.sleep(500);
                    assertThat(again.stats().events()).isEqualTo(more.size());
                }
                assertThat(Files.exists(snapshot)).isTrue();
            }
        }
    }

    /** Waits until every one of {@code n} events was either learned or refused; returns the stats then. */
    static OnlineTraining.Stats awaitSeen(OnlineTraining training, long learnedBefore, long refusedBefore, long n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        OnlineTraining.Stats s = training.stats();
        while (s.events() - learnedBefore + s.itemsRefused() - refusedBefore < n && System.nanoTime() < deadline && training.failure() == null) {
            Thread.sleep(50);
            s = training.stats();
        }
        assertThat(training.failure()).isNull();
        assertThat(s.events() - learnedBefore + s.itemsRefused() - refusedBefore).as("events learned or refused").isEqualTo(n);
        return s;
    }

    /** Events of made-up items, each item new (ids from {@code firstItem} up), for a few users. */
    static List<StreamEvent> junk(int n, long firstItem, long firstTime) {
        List<StreamEvent> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new StreamEvent(new BehaviorEvent(i % 7, firstItem + i, 1_000_000 + i, "pv", firstTime + i)));
        }
        return out;
    }

    @Test
    void newItemsAreBoundedPerWindowAndInTotalAndTheRestAreCountedAsRefused() throws Exception {
        EventTopics topics = EventTopics.defaults();
        List<BehaviorEvent> known = planted(20, 9, 1_000);
        UserSequences base = UserSequences.of(known);
        ItemCatalog catalog = base.catalog();
        int initial = catalog.items();
        SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 8, 16, 10, new int[] {32, 16}), catalog.items(),
                catalog.categories(), 3);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            SequenceStreamTest.createTopics(broker, topics);
            try (SequenceStream stream = new SequenceStream(broker.bootstrapServers(), topics,
                    new SequenceStream.Options("test-bounded", new HostInfo("localhost", 1), dir.resolve("state"), 1000, Duration.ofMillis(100)));
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
                assertThat(stream.awaitRunning(Duration.ofSeconds(60))).isTrue();
                // the window's limit: 300 new items an hour (the test ends well within it), no cap in reach
                OnlineTraining.Options perWindow = OnlineTraining.Options.defaults("bounded-a", dir.resolve("a.model"))
                        .withNewItemLimit(300, Duration.ofHours(1)).withMaxItems(1_000_000);
                try (OnlineTraining training = new OnlineTraining(broker.bootstrapServers(), topics, stream, model, catalog, perWindow)) {
                    assertThat(training.awaitAssigned(Duration.ofSeconds(60))).isTrue();
                    producer.send(junk(2_000, 10_000_000, 10_000));
                    OnlineTraining.Stats s = awaitSeen(training, 0, 0, 2_000);
                    System.out.printf("[online] 2,000 junk events, 300 new items an hour: catalog %d -> %d items, %d learned, %d refused%n",
                            initial, catalog.items(), s.events(), s.itemsRefused());
                    assertThat(catalog.items()).isEqualTo(initial + 300);
                    assertThat(model.items()).isEqualTo(catalog.items());
                    assertThat(s.events()).isEqualTo(300);
                    assertThat(s.itemsRefused()).isEqualTo(1_700).isEqualTo(training.itemsRefused());
                    assertThat(training.itemsRefusedAtCap()).isZero();
                }
                // the total cap: 250 more items at most, then only known items are learned
                int cap = catalog.items() + 250;
                OnlineTraining.Options capped = OnlineTraining.Options.defaults("bounded-b", dir.resolve("b.model")).withMaxItems(cap);
                assertThat(capped.newItemsPerWindow()).isEqualTo(10_000);
                try (OnlineTraining training = new OnlineTraining(broker.bootstrapServers(), topics, stream, model, catalog, capped)) {
                    assertThat(training.awaitAssigned(Duration.ofSeconds(60))).isTrue();
                    assertThat(training.itemCap()).isEqualTo(cap);
                    producer.send(junk(3_000, 20_000_000, 20_000));
                    OnlineTraining.Stats s = awaitSeen(training, 0, 0, 3_000);
                    System.out.printf("[online] 3,000 junk events, cap %d items: catalog %d items, %d learned, %d refused at the cap%n",
                            cap, catalog.items(), s.events(), training.itemsRefusedAtCap());
                    assertThat(catalog.items()).as("growth stops at the cap").isEqualTo(cap);
                    assertThat(model.items()).isEqualTo(cap);
                    assertThat(s.events()).isEqualTo(250);
                    assertThat(training.itemsRefusedAtCap()).isEqualTo(2_750).isEqualTo(s.itemsRefused());
                    // events on items the model knows are still learned
                    List<BehaviorEvent> again = known.stream().map(e -> new BehaviorEvent(e.user(), e.item(), e.category(), "pv", e.time() + 50_000))
                            .toList();
                    producer.send(wrap(again));
                    OnlineTraining.Stats after = awaitSeen(training, s.events(), s.itemsRefused(), again.size());
                    assertThat(after.events() - s.events()).isEqualTo(again.size());
                    assertThat(catalog.items()).isEqualTo(cap);
                }
            }
        }
    }
}
