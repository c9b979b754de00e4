package dev.attend.server.kv;

import dev.attend.gpu.Precision;
import dev.attend.retrieval.AttendResult;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The JSON answers of {@link KvSessionRoutes} that show a session or an attention answer. */
final class KvSessionJson {

    private KvSessionJson() {
    }

    /** A session in the list: its shape, its longest KV head and its memory. */
    static Map<String, Object> summary(KvSession s) {
        KvSessionConfig c = s.config();
        int tokens = 0;
        for (int l = 0; l < c.layers(); l++) {
            for (int h = 0; h < c.kvHeads(); h++) {
                tokens = Math.max(tokens, s.length(l, h));
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", s.id());
        m.put("layers", c.layers());
        m.put("kvHeads", c.kvHeads());
        m.put("queryHeads", c.queryHeads());
        m.put("headDim", c.headDim());
        m.put("tokens", tokens);
        m.put("memoryBytes", s.memoryBytes());
        return m;
    }

    static Map<String, Object> describe(KvSession s) {
        KvSessionConfig c = s.config();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", s.id());
        m.put("layers", c.layers());
        m.put("kvHeads", c.kvHeads());
        m.put("queryHeadsPerKvHead", c.queryHeadsPerKvHead());
        m.put("headDim", c.headDim());
        m.put("sinkTokens", c.sinkTokens());
        m.put("windowTokens", c.windowTokens());
        m.put("topK", c.topK());
        m.put("scale", c.scale());
        m.put("storage", c.storage() == Precision.FLOAT16 ? "float16" : "float32");
        m.put("retriever", c.retriever().wireName());
        m.put("indexPerQueryHead", c.indexPerQueryHead());
        m.put("policy", c.policies().defaultPolicy());
        m.put("headPolicies", c.policies().perHead());
        m.put("memoryBytes", s.memoryBytes());
        List<Map<String, Object>> heads = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            for (int h = 0; h < c.kvHeads(); h++) {
                Map<String, Object> head = new LinkedHashMap<>();
                head.put("layer", l);
                head.put("kvHead", h);
                head.put("tokens", s.length(l, h));
                head.put("index", s.indexState(l, h));
                head.put("policy", s.policyState(l, h));
                heads.add(head);
            }
        }
        m.put("heads", heads);
        return m;
    }

    /** One answer in JSON: {@code queryHead}, {@code output}, {@code logSumExp}, {@code stats}. */
    static Map<String, Object> result(int queryHead, AttendResult a) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("queryHead", queryHead);
        m.put("output", a.output());
        m.put("logSumExp", a.logSumExp());
        m.put("stats", a.stats());
        return m;
    }
}
