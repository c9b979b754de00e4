package dev.attend.recsys.data;

import java.util.List;

/** The events of an import, in file order, and its report. */
public record Imported(List<BehaviorEvent> events, ImportReport report) {

    public Imported {
        events = List.copyOf(events);
    }
}
