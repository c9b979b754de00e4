package dev.attend.gpu;

import java.util.List;

/** Top-k rows for each query of a batch, and the device the scoring ran on. */
public record TopKResult(List<TopK> perQuery, Device device) {

    public TopKResult {
        perQuery = List.copyOf(perQuery);
    }

    public TopK get(int query) {
        return perQuery.get(query);
    }
}
