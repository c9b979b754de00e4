package dev.attend.retrieval;

import java.util.ArrayDeque;
import java.util.List;

/** The latest decode queries a {@link KvSession} answered per layer (in memory only): what an accuracy check replays. */
final class RecentQueries {

    private final ArrayDeque<KvSession.HeadQuery>[] perLayer;
    private final int capacity;

    @SuppressWarnings("unchecked")
    RecentQueries(int layers, int capacity) {
        this.capacity = capacity;
        this.perLayer = new ArrayDeque[layers];
        for (int l = 0; l < layers; l++) {
            perLayer[l] = new ArrayDeque<>();
        }
    }

    /** Records {@code query} of {@code queryHead} (copied). */
    void add(int layer, int queryHead, float[] query) {
        ArrayDeque<KvSession.HeadQuery> seen = perLayer[layer];
        synchronized (seen) {
            push(seen, queryHead, query);
        }
    }

    /** Records a query per query head of a layer step (copied). */
    void add(int layer, float[][] queries) {
        ArrayDeque<KvSession.HeadQuery> seen = perLayer[layer];
        synchronized (seen) {
            for (int q = 0; q < queries.length; q++) {
                push(seen, q, queries[q]);
            }
        }
    }

    private void push(ArrayDeque<KvSession.HeadQuery> seen, int queryHead, float[] query) {
        if (seen.size() == capacity) {
            seen.removeFirst();
        }
        seen.addLast(new KvSession.HeadQuery(queryHead, query.clone()));
    }

    /** The queries of {@code layer}, oldest first. */
    List<KvSession.HeadQuery> of(int layer) {
        synchronized (perLayer[layer]) {
            return List.copyOf(perLayer[layer]);
        }
    }
}
