package dev.attend.streaming;

import java.nio.file.Path;
import java.time.Duration;
import org.apache.kafka.streams.state.HostInfo;

/**
 * A sequence stream in a process of its own, for the crash test: {@code bootstrap applicationId stateDir maxPerUser}.
 * Prints {@code RUNNING} once it runs, then runs until killed.
 */
public final class SequenceStreamProcess {

    public static void main(String[] args) throws Exception {
        SequenceStream stream = new SequenceStream(args[0], EventTopics.defaults(),
                new SequenceStream.Options(args[1], new HostInfo("localhost", 1), Path.of(args[2]), Integer.parseInt(args[3]),
                        Duration.ofMillis(100)));
        if (!stream.awaitRunning(Duration.ofSeconds(90))) {
            System.out.println("FAILED " + stream.state());
            System.exit(1);
        }
        System.out.println("RUNNING");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
