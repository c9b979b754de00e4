package dev.attend.streaming;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * The topics of the event stream: events keyed by user, and the dead letters (records that are not events, each
 * with the reason in a header).
 */
public record EventTopics(String events, String deadLetters, int partitions, short replicas) {

    /** Header of a dead letter that says why the record was refused. */
    public static final String REASON_HEADER = "attend.reason";

    public static EventTopics defaults() {
        return new EventTopics("attend.events", "attend.events.dlq", 4, (short) 1);
    }

    /** Creates the topics that do not exist yet. */
    public void create(Admin admin) throws InterruptedException {
        for (NewTopic t : List.of(new NewTopic(events, partitions, replicas),
                new NewTopic(deadLetters, 1, replicas).configs(Map.of("retention.ms", Long.toString(7L * 24 * 3600 * 1000))))) {
            try {
                admin.createTopics(List.of(t)).all().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("cannot create topic " + t.name() + ": " + e.getCause().getMessage(), e.getCause());
                }
            }
        }
    }
}
