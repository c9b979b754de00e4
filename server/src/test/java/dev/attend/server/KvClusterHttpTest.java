package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attend.broker.EmbeddedKafkaBroker;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.retrieval.KvSessionLimits;
import dev.attend.server.kv.KvSessionRoutes;
import dev.attend.streaming.KvCluster;
import dev.attend.streaming.KvTopicLog;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two servers sharing KV sessions through a KV topic on a real (embedded KRaft) broker: every session is created,
 * written and read through either, the one that does not own it forwarding to the one that does; when one stops, the
 * other serves all of them with every acknowledged token.
 */
class KvClusterHttpTest {

    private static final int DIM = 8;

    @TempDir
    Path dir;

    @Test
    void sessionsAreServedThroughEitherInstanceAndByTheOtherWhenOneStops() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka")); Scorer scorer = Scorers.create("simd")) {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            try (Admin admin = Admin.create(p)) {
                KvTopicLog.createTopic(admin, "attend.kv", 4, (short) 1);
            }
            int portA = freePort();
            int portB = freePort();
            KvSessionRoutes routesA = instance(broker, scorer, portA);
            KvSessionRoutes routesB = instance(broker, scorer, portB);
            AttendServer a = AttendServer.builder().routes(routesA).component("kv", routesA::kvState).build().start(config(portA, "a"));
            AttendServer b = AttendServer.builder().routes(routesB).build().start(config(portB, "b"));
            awaitSettled(routesA, routesB);
            HttpResponse<String> health = TestHttp.get(a, "/health");
            assertThat(TestHttp.json(health).get("components").get("kv").get("detail").asText()).contains("partitions served [");
            SplittableRandom rnd = new SplittableRandom(25);
            Map<String, Integer> tokens = new HashMap<>();
            try {
                int forwarded = 0;
                for (int i = 0; i < 8; i++) {
                    String id = "chat-" + i;
                    AttendServer via = i % 2 == 0 ? a : b;
                    HttpResponse<String> created = retryWhileUnavailable(() -> TestHttp.postJson(via, "/v1/kv/sessions",
                            Map.of("id", id, "layers", 1, "kvHeads", 1, "queryHeadsPerKvHead", 2, "headDim", DIM, "sinkTokens", 2, "windowTokens", 4)));
                    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
                    forwarded += created.headers().firstValue("X-Attend-Served-By").isPresent() ? 1 : 0;
                    AttendServer other = via == a ? b : a;
                    HttpResponse<String> prefill = TestHttp.postJson(other, "/v1/kv/sessions/" + id + "/prefill", Map.of("layer", 0, "kvHead", 0,
                            "from", 0, "keys", rows(rnd, 30), "values", rows(rnd, 30), "queries", rows(rnd, 4)));
                    assertThat(prefill.statusCode()).as(prefill.body()).isEqualTo(200);
                    for (int t = 30; t < 33; t++) {
                        HttpResponse<String> append = TestHttp.postJson(via, "/v1/kv/sessions/" + id + "/append", Map.of("layer", 0, "kvHead", 0,
                                "position", t, "key", rows(rnd, 1).get(0), "value", rows(rnd, 1).get(0)));
                        assertThat(append.statusCode()).as(append.body()).isEqualTo(200);
                    }
                    // An out-of-order write is refused by the owner, through either instance, and changes nothing.
                    HttpResponse<String> stale = TestHttp.postJson(other, "/v1/kv/sessions/" + id + "/append", Map.of("layer", 0, "kvHead", 0,
                            "position", 31, "key", rows(rnd, 1).get(0), "value", rows(rnd, 1).get(0)));
                    assertThat(stale.statusCode()).as(stale.body()).isEqualTo(400);
                    tokens.put(id, 33);
                }
                assertThat(forwarded).as("sessions created through the instance that does not own them").isPositive().isLessThan(8);
                for (String id : tokens.keySet()) {
                    for (AttendServer s : List.of(a, b)) {
                        HttpResponse<String> got = TestHttp.get(s, "/v1/kv/sessions/" + id);
                        assertThat(got.statusCode()).as(got.body()).isEqualTo(200);
                        assertThat(TestHttp.json(got).get("heads").get(0).get("tokens").asInt()).isEqualTo(33);
                        HttpResponse<String> attend = TestHttp.postJson(s, "/v1/kv/sessions/" + id + "/attend", Map.of("layer", 0,
                                "queries", List.of(Map.of("queryHead", 1, "query", rows(rnd, 1).get(0)))));
                        assertThat(attend.statusCode()).as(attend.body()).isEqualTo(200);
                    }
                }
                // B stops (it leaves the group): A takes its partitions and rebuilds their sessions from the topic.
                b.stop();
                routesB.close();
                for (Map.Entry<String, Integer> e : tokens.entrySet()) {
                    HttpResponse<String> got = retryWhileUnavailable(() -> TestHttp.get(a, "/v1/kv/sessions/" + e.getKey()));
                    assertThat(got.statusCode()).as(got.body()).isEqualTo(200);
                    JsonNode body = TestHttp.json(got);
                    assertThat(body.get("heads").get(0).get("tokens").asInt()).as(e.getKey()).isEqualTo(e.getValue());
                    assertThat(got.headers().firstValue("X-Attend-Served-By")).isEmpty();
                    HttpResponse<String> next = TestHttp.postJson(a, "/v1/kv/sessions/" + e.getKey() + "/append", Map.of("layer", 0, "kvHead", 0,
                            "position", e.getValue(), "key", rows(rnd, 1).get(0), "value", rows(rnd, 1).get(0)));
                    assertThat(next.statusCode()).as(next.body()).isEqualTo(200);
                }
                assertThat(TestHttp.json(TestHttp.get(a, "/v1/kv/sessions")).get("sessions")).hasSize(8);
            } finally {
                a.stop();
                b.stop();
                routesA.close();
                routesB.close();
            }
        }
    }

    /** Until the instances serve every partition of the KV topic between them, each once. */
    private static void awaitSettled(KvSessionRoutes... instances) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            Set<Integer> served = new TreeSet<>();
            int count = 0;
            for (KvSessionRoutes r : instances) {
                for (Map.Entry<Integer, KvCluster.PartitionState> e : r.clusterPartitions().entrySet()) {
                    count++;
                    if (e.getValue() == KvCluster.PartitionState.READY) {
                        served.add(e.getKey());
                    }
                }
            }
            if (served.size() == 4 && count == 4 && Arrays.stream(instances).allMatch(r -> !r.clusterPartitions().isEmpty())) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the instances did not settle on the KV topic's partitions within 60 s");
            }
            Thread.sleep(100);
        }
    }

    /** A request made again while the instances rebalance or restore (503), for up to a minute. */
    private static HttpResponse<String> retryWhileUnavailable(Supplier<HttpResponse<String>> request) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            HttpResponse<String> r = request.get();
            if (r.statusCode() != 503 || System.nanoTime() > deadline) {
                return r;
            }
            Thread.sleep(200);
        }
    }

    private static KvSessionRoutes instance(EmbeddedKafkaBroker broker, Scorer scorer, int port) {
        return new KvSessionRoutes(new KvCluster.Settings(broker.bootstrapServers(), "attend.kv", "attend-test.kv", new HostInfo("127.0.0.1", port),
                null, Duration.ofSeconds(6), 0, Map.of(), null), scorer, Duration.ZERO, KvSessionLimits.defaults(), 1);
    }

    private ServerConfig config(int port, String name) {
        return ServerConfig.defaults().withPort(port).withDataDir(dir.resolve(name + "-data")).withShutdownTimeout(Duration.ofSeconds(2));
    }

    private static List<float[]> rows(SplittableRandom rnd, int n) {
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] r = new float[DIM];
            for (int c = 0; c < DIM; c++) {
                r[c] = (float) rnd.nextGaussian();
            }
            out.add(r);
        }
        return out;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
