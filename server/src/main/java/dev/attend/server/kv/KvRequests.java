package dev.attend.server.kv;

import java.util.List;
import java.util.Map;

/**
 * The request bodies of {@link KvSessionRoutes}, as JSON maps them (absent optional numbers are null); {@link KvBinaryBodies}
 * builds the same records from binary bodies.
 */
final class KvRequests {

    private KvRequests() {
    }

    record CreateRequest(String id, Integer layers, Integer kvHeads, Integer queryHeadsPerKvHead, Integer headDim,
                         Integer sinkTokens, Integer windowTokens, Integer topK, Float scale, String storage, String retriever,
                         Boolean indexPerQueryHead, String policy, Map<String, String> headPolicies) {
    }

    record PrefillRequest(Integer layer, Integer kvHead, Integer from, float[][] keys, float[][] values, float[][] queries,
                          int[] queryHeads, Boolean more) {
    }

    record AppendRequest(Integer layer, Integer kvHead, Integer position, float[] key, float[] value) {
    }

    record HeadQuery(Integer queryHead, float[] query) {
    }

    record AttendRequest(Integer layer, List<HeadQuery> queries, Integer budget) {
    }

    record AccuracyRequest(Integer layer, List<HeadQuery> queries, Integer budget) {
    }

    record DecodeRequest(Integer layer, Integer kvHead, Integer position, float[] key, float[] value, List<HeadQuery> queries,
                         Integer budget) {
    }

    /** A whole layer's decode step: a key and a value per KV head, a query per query head (in query-head order). */
    record DecodeLayerRequest(Integer layer, Integer position, float[][] keys, float[][] values, float[][] queries, Integer budget) {
    }
}
