package dev.attend.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.streaming.EventTopics;
import dev.attend.streaming.EventWire;
import dev.attend.streaming.StreamEvent;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code attend events produce}: a behaviour file onto the events topic of the broker a server runs. */
class EventsCommandTest {

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cli = AttendCli.newCommandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void aFileReachesTheEventsTopicOfTheServersBroker() throws Exception {
        Path csv = dir.resolve("UserBehavior.csv");
        Files.write(csv, List.of("1,100,7,pv,1511544070", "1,101,7,buy,1511544071", "2,100,7,pv,1511544072", "not,a,row", "3,5,5,cart,9"));
        Path data = dir.resolve("data");
        assertThat(run("events", "produce", "--file", csv.toString(), "--format", "taobao", "--data-dir", data.toString())).isNotZero();
        assertThat(err.toString()).contains("no embedded Kafka broker runs under", "attend serve");

        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(data.resolve("events").resolve("kafka"))) {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            try (Admin admin = Admin.create(p)) {
                EventTopics.defaults().create(admin);
            }
            assertThat(run("events", "produce", "--file", csv.toString(), "--format", "taobao", "--data-dir", data.toString()))
                    .as(err.toString()).isZero();
            assertThat(out.toString()).contains("4 events sent to attend.events");
            assertThat(err.toString()).contains("skipped");
            List<StreamEvent> got = new ArrayList<>();
            p.put(ConsumerConfig.GROUP_ID_CONFIG, "events-command-test");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                c.subscribe(List.of(EventTopics.defaults().events()));
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (got.size() < 4 && System.nanoTime() < deadline) {
                    for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                        got.add(EventWire.read(r.key(), r.value()));
                    }
                }
            }
            assertThat(got).hasSize(4);
            assertThat(got).anySatisfy(e -> {
                assertThat(e.behavior().user()).isEqualTo(1);
                assertThat(e.behavior().action()).isEqualTo("buy");
                assertThat(e.behavior().time()).isEqualTo(1511544071L);
            });
        }
        assertThat(EmbeddedKafkaBroker.runningAt(data.resolve("events").resolve("kafka"))).as("the address goes with the broker").isEmpty();
    }
}
