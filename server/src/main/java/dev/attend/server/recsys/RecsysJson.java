package dev.attend.server.recsys;

import dev.attend.recsys.serving.Recommender;
import java.util.LinkedHashMap;
import java.util.Map;

/** The JSON shapes of {@link RecsysRoutes}' answers: a scored item and a behaviour of a history. */
final class RecsysJson {

    private RecsysJson() {
    }

    static Map<String, Object> scored(Recommender.Scored s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("item", s.item());
        m.put("category", s.category());
        m.put("probability", s.probability());
        m.put("known", s.known());
        return m;
    }

    static Map<String, Object> behavior(int position, long item, long category, String action, long time, Float weight) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("position", position);
        m.put("item", item);
        m.put("category", category);
        m.put("action", action);
        m.put("time", time);
        if (weight != null) {
            m.put("weight", weight);
        }
        return m;
    }
}
