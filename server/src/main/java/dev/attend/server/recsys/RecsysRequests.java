package dev.attend.server.recsys;

import com.fasterxml.jackson.annotation.JsonAlias;
import java.util.List;

/** The JSON request bodies of {@link RecsysRoutes} (absent fields are null). */
final class RecsysRequests {

    private RecsysRequests() {
    }

    /** {@code behavior} is the action's other name (the Kafka wire format's before it took {@code action}). */
    record EventBody(Long user, Long item, Long category, @JsonAlias("behavior") String action, Long time) {
    }

    record EventsRequest(List<EventBody> events) {
    }

    record ScoreRequest(Long user, long[] items, long[] categories) {
    }

    record RecommendRequest(Long user, Integer n, Boolean excludeSeen) {
    }

    record ExplainRequest(Long user, Long item, Long category) {
    }
}
