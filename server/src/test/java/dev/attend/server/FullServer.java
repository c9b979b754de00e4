package dev.attend.server;

import dev.attend.gpu.SimdScorer;
import dev.attend.retrieval.KvDurability;
import dev.attend.search.MiniLmEmbedder;
import dev.attend.server.kv.KvSessionRoutes;
import dev.attend.server.recsys.RecsysRoutes;
import dev.attend.server.search.SearchRoutes;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * A server with every module, as {@code attend serve} wires them without Kafka (behaviours in a local store), on a
 * free port under {@code dir}; closing it stops the server and closes the modules.
 */
final class FullServer implements AutoCloseable {

    final AttendServer server;
    private final SimdScorer scorer;
    private final KvSessionRoutes kv;
    private final RecsysRoutes recsys;
    private final SearchRoutes search;

    /** {@code model}: a recommendation model file to serve (required then), or null for none. */
    FullServer(Path dir, Path model, UnaryOperator<ServerConfig> config) throws Exception {
        scorer = new SimdScorer(1);
        kv = new KvSessionRoutes(dir.resolve("kv"), scorer, Duration.ZERO, KvDurability.FSYNC);
        recsys = new RecsysRoutes(dir.resolve("recsys"), scorer, model != null ? model : dir.resolve("recsys/model.bin"), model != null);
        search = new SearchRoutes(dir.resolve("search"), MiniLmEmbedder.shared());
        server = AttendServer.builder().routes(kv).routes(recsys).routes(search).watch(dir).build()
                .start(config.apply(ServerConfig.defaults().withPort(0).withDataDir(dir.resolve("data"))));
    }

    @Override
    public void close() throws Exception {
        server.stop();
        search.close();
        recsys.close();
        kv.close();
        scorer.close();
    }
}
