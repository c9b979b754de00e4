package dev.attend.server.cli;

import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.server.ConfigException;
import dev.attend.streaming.EventProducer;
import dev.attend.streaming.EventTopics;
import dev.attend.streaming.KafkaUnavailableException;
import dev.attend.streaming.StreamEvent;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code attend events ...}: users' events on the Kafka stream. */
@Command(name = "events", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
        description = "Users' events on the Kafka stream that `attend serve` reads.", subcommands = EventsCommand.Produce.class)
public final class EventsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    @Command(name = "produce", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
            description = "Send the events of a behaviour file to the events topic (wire format v1), each batch acknowledged by Kafka.")
    static final class Produce implements Callable<Integer> {

        @Option(names = "--file", paramLabel = "PATH", required = true,
                description = "A Taobao UserBehavior CSV, or a MovieLens directory (u.data + u.item, or ratings.csv + movies.csv).")
        Path file;

        @Option(names = "--format", paramLabel = "taobao|movielens", required = true, description = "The format of --file.")
        String format;

        @Option(names = "--kafka-bootstrap", paramLabel = "HOST:PORT,...",
                description = "The Kafka cluster (default: the broker of the `attend serve` running on --data-dir).")
        String bootstrap;

        @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "data",
                description = "The data directory of the server whose embedded broker receives the events (default ./data).")
        Path dataDir;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter err = spec.commandLine().getErr();
            String servers = bootstrap;
            if (servers == null) {
                Path brokerDir = dataDir.resolve("events").resolve("kafka");
                servers = EmbeddedKafkaBroker.runningAt(brokerDir).orElseThrow(() -> new ConfigException("no embedded Kafka broker runs under "
                        + brokerDir + ": start `attend serve --data-dir " + dataDir + "` first, or give --kafka-bootstrap HOST:PORT"));
            }
            List<BehaviorEvent> events = RecsysCommand.readBehaviors(file, format, err).events();
            try (EventProducer producer = new EventProducer(servers, EventTopics.defaults());
                 ProgressBar bar = RecsysCommand.eventProgress("produce", events.size())) {
                for (int from = 0; from < events.size(); from += 10_000) {
                    List<StreamEvent> batch = new ArrayList<>();
                    for (BehaviorEvent e : events.subList(from, Math.min(events.size(), from + 10_000))) {
                        batch.add(new StreamEvent(e));
                    }
                    producer.send(batch);
                    bar.stepBy(batch.size());
                }
            } catch (KafkaUnavailableException e) {
                spec.commandLine().getErr().println("attend: Kafka at " + servers + " does not take events: " + e.getMessage());
                spec.commandLine().getErr().flush();
                return 1;
            }
            spec.commandLine().getOut().printf(Locale.ROOT, "%,d events sent to %s (Kafka at %s)%n", events.size(),
                    EventTopics.defaults().events(), servers);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }
}
