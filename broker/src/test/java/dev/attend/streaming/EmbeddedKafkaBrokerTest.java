package dev.attend.streaming;

import dev.attend.broker.EmbeddedKafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedKafkaBrokerTest {

    @TempDir
    Path dir;

    @Test
    void aRestartListensWhereTheLastStartDidAndMovesOnlyWhenThatPortIsTaken() throws Exception {
        String first;
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir)) {
            first = broker.bootstrapServers();
            assertThat(EmbeddedKafkaBroker.runningAt(dir)).contains(first);
        }
        assertThat(EmbeddedKafkaBroker.runningAt(dir)).as("the address is withdrawn on close").isEmpty();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir)) {
            assertThat(broker.bootstrapServers()).as("the kept port").isEqualTo(first);
        }
        int port = Integer.parseInt(first.substring(first.lastIndexOf(':') + 1));
        try (ServerSocket squatter = new ServerSocket()) {
            squatter.bind(new InetSocketAddress("localhost", port));
            try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir)) {
                assertThat(broker.bootstrapServers()).as("another port while the kept one is taken").isNotEqualTo(first);
            }
        }
    }
}
