package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

/** What the KV tests of this package run on: an embedded KRaft broker holding their topics, and a scorer for sessions. */
record KvBroker(EmbeddedKafkaBroker broker, Scorer scorer) implements AutoCloseable {

    /** A broker under {@code dir} with {@code topics} created. */
    static KvBroker start(Path dir, NewTopic... topics) throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("broker"));
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            admin.createTopics(List.of(topics)).all().get();
        } catch (Exception e) {
            broker.close();
            throw e;
        }
        return new KvBroker(broker, Scorers.create("simd"));
    }

    @Override
    public void close() throws Exception {
        scorer.close();
        broker.close();
    }
}
