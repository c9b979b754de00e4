package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.broker.EventStreaming;
import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two deployments on one Kafka cluster, each with its own topics and application id: neither reads the other's events. */
class EventStreamingDeploymentsTest {

    @TempDir
    Path dir;

    @Test
    void deploymentsWithTheirOwnTopicsAndIdsShareAClusterApart() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"));
             EventStreaming a = EventStreaming.start(broker.bootstrapServers(), dir.resolve("a"), new HostInfo("localhost", 1), 100, Map.of(),
                     new EventTopics("shop-a.events", "shop-a.events.dlq", 3, (short) 1), "shop-a");
             EventStreaming b = EventStreaming.start(broker.bootstrapServers(), dir.resolve("b"), new HostInfo("localhost", 2), 100, Map.of(),
                     new EventTopics("shop-b.events", "shop-b.events.dlq", 2, (short) 1), "shop-b")) {
            a.producer().send(List.of(new StreamEvent(new BehaviorEvent(7, 1, 1, "pv", 10))));
            b.producer().send(List.of(new StreamEvent(new BehaviorEvent(7, 2, 1, "pv", 20)), new StreamEvent(new BehaviorEvent(7, 3, 1, "buy", 30))));
            assertThat(SequenceStreamTest.awaitVersion(a.sequences(), 7, 1).items()).containsExactly(1L);
            assertThat(SequenceStreamTest.awaitVersion(b.sequences(), 7, 2).items()).containsExactly(2L, 3L);
            Thread.sleep(500); // nothing more arrives on either side
            assertThat(a.sequences().get(7).length()).isEqualTo(1);
            assertThat(b.sequences().get(7).length()).isEqualTo(2);

            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            try (Admin admin = Admin.create(p)) {
                Map<String, TopicDescription> topics = admin.describeTopics(List.of("shop-a.events", "shop-b.events")).allTopicNames()
                        .get(30, java.util.concurrent.TimeUnit.SECONDS);
                assertThat(topics.get("shop-a.events").partitions()).hasSize(3);
                assertThat(topics.get("shop-b.events").partitions()).hasSize(2);
                // each application's changelog is its own
                assertThat(admin.listTopics().names().get(30, java.util.concurrent.TimeUnit.SECONDS))
                        .anyMatch(t -> t.startsWith("shop-a-")).anyMatch(t -> t.startsWith("shop-b-"));
            }
        }
    }

    /** A topic that exists with more partitions than configured (partitions added later) is used as it is: no event dead-lettered. */
    @Test
    void anExistingTopicsPartitionsWinOverTheConfiguredOnes() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            SequenceStreamTest.createTopics(broker, new EventTopics("grown.events", "grown.events.dlq", 6, (short) 1));
            try (EventStreaming s = EventStreaming.start(broker.bootstrapServers(), dir.resolve("s"), new HostInfo("localhost", 1), 100, Map.of(),
                    new EventTopics("grown.events", "grown.events.dlq", 4, (short) 1), "grown")) {
                assertThat(s.topics().partitions()).isEqualTo(6);
                List<StreamEvent> events = new java.util.ArrayList<>();
                for (long user = 1; user <= 12; user++) {
                    events.add(new StreamEvent(new BehaviorEvent(user, user, 1, "pv", 10)));
                }
                s.producer().send(events);
                for (long user = 1; user <= 12; user++) {
                    assertThat(SequenceStreamTest.awaitVersion(s.sequences(), user, 1).items()).containsExactly(user);
                }
            }
        }
    }

    /** With a set of behaviours, an event of another action is a dead letter with the reason; the others are applied. */
    @Test
    void actionsOutsideTheConfiguredSetAreDeadLettered() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            EventTopics topics = new EventTopics("shop.events", "shop.events.dlq", 2, (short) 1);
            try (EventStreaming s = EventStreaming.start(broker.bootstrapServers(), dir.resolve("s"), new HostInfo("localhost", 1), 100, Map.of(),
                    topics, "shop", java.util.Set.of("pv", "buy"))) {
                s.producer().send(List.of(new StreamEvent(new BehaviorEvent(3, 1, 1, "like", 10)), new StreamEvent(new BehaviorEvent(3, 2, 1, "buy", 20))));
                assertThat(SequenceStreamTest.awaitVersion(s.sequences(), 3, 1).actions()).containsExactly("buy");
                assertThat(SequenceStreamTest.deadLetters(broker, topics, 1).get("3")).isEqualTo("action 'like' is not one of [buy, pv] (attend.behaviors)");
                assertThat(s.sequences().deadLettered()).isEqualTo(1);
            }
        }
    }
}
