package dev.attend.streaming;

import dev.attend.recsys.data.BehaviorEvent;
import java.util.Map;
import java.util.Objects;

/**
 * A user event as it travels on Kafka: the behaviour, and optional context (for example the page or the device)
 * that the event stream carries and the sequence store does not keep.
 */
public record StreamEvent(BehaviorEvent behavior, Map<String, String> context) {

    public StreamEvent {
        Objects.requireNonNull(behavior, "behavior");
        context = context == null ? Map.of() : Map.copyOf(context);
    }

    public StreamEvent(BehaviorEvent behavior) {
        this(behavior, Map.of());
    }
}
