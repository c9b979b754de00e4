package dev.attend.streaming;

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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Online training from the events topic of a real broker, with the sequence topology beside it. */
class OnlineTrainingTest {

    @TempDir
    Path dir;

    /** Users who act mostly within a favourite category (of ten), interleaved in time. */
    static List<BehaviorEvent> planted(int users, long seed, long firstTime) {
        SplittableRandom rnd = new SplittableRandom(seed);
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
}
