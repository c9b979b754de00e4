package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BehaviorSequence;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two instances of the topology share the users: both agree on each user's owner, and only the owner holds it. */
class SequenceStreamRoutingTest {

    @TempDir
    Path dir;

    @Test
    void twoInstancesSplitTheUsersAndAgreeWhoOwnsEach() throws Exception {
        EventTopics topics = EventTopics.defaults();
        HostInfo a = new HostInfo("localhost", 7001);
        HostInfo b = new HostInfo("localhost", 7002);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            SequenceStreamTest.createTopics(broker, topics);
            try (SequenceStream first = new SequenceStream(broker.bootstrapServers(), topics,
                    new SequenceStream.Options("routing", a, dir.resolve("a"), 1000, Duration.ofMillis(100)));
                 SequenceStream second = new SequenceStream(broker.bootstrapServers(), topics,
                         new SequenceStream.Options("routing", b, dir.resolve("b"), 1000, Duration.ofMillis(100)));
                 EventProducer producer = new EventProducer(broker.bootstrapServers(), topics)) {
                List<StreamEvent> events = new ArrayList<>();
                for (int i = 0; i < 400; i++) {
                    events.add(new StreamEvent(new BehaviorEvent(i % 40, i, i % 7, "pv", i)));
                }
                producer.send(events);
                awaitBalanced(first, second);
                Set<HostInfo> owners = new HashSet<>();
                for (long user = 0; user < 40; user++) {
                    Optional<HostInfo> owner = first.ownerOf(user);
                    assertThat(owner).as("user %d", user).isPresent();
                    assertThat(second.ownerOf(user)).isEqualTo(owner);
                    owners.add(owner.get());
                    SequenceStream holder = owner.get().equals(a) ? first : second;
                    SequenceStream other = holder == first ? second : first;
                    assertThat(holder.holds(user)).isTrue();
                    assertThat(other.holds(user)).isFalse();
                    BehaviorSequence s = SequenceStreamTest.awaitVersion(holder, user, 10);
                    assertThat(s.items()).containsExactly(user, user + 40, user + 80, user + 120, user + 160, user + 200, user + 240,
                            user + 280, user + 320, user + 360);
                    assertThat(other.get(user).length()).as("the other instance does not hold user %d", user).isZero();
                }
                assertThat(owners).containsExactlyInAnyOrder(a, b);
            }
        }
    }

    /** Waits until both run and each owns partitions (the second instance's join moves partitions to it). */
    private static void awaitBalanced(SequenceStream first, SequenceStream second) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            if (first.state() == KafkaStreams.State.RUNNING
                    && second.state() == KafkaStreams.State.RUNNING) {
                Set<HostInfo> owners = new HashSet<>();
                for (long user = 0; user < 40; user++) {
                    first.ownerOf(user).ifPresent(owners::add);
                }
                if (owners.size() == 2) {
                    return;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the two instances did not share the partitions: " + first.state() + ", " + second.state());
    }
}
