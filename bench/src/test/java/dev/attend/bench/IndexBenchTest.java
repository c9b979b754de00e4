package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.bench.workload.KvWorkload;
import dev.attend.index.factory.IndexKind;
import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.gpu.SimdScorer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IndexBenchTest {

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @Test
    void tinySyntheticRunWithTheFlatIndex(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("index.json");
        Path png = dir.resolve("index.png");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = IndexBench.run(new String[] {"--synthetic", "3000", "--head", "L2H0", "--queries", "40", "--train", "500",
                "--indexes", "flat", "--budgets", "0.1,0.5", "--scorer", "simd", "--json", json.toString(), "--plot", png.toString()},
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);

        assertThat(rc).isZero();
        String table = out.toString(StandardCharsets.UTF_8);
        assertThat(table).contains("flat", "recall@100", "synthetic minilm-shakespeare/L2H0 n=3000", "fitted to the real head");

        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertThat(root.path("bench").asText()).isEqualTo("index");
        assertThat(root.path("machine").path("cores").asInt()).isPositive();
        JsonNode workload = root.path("workloads").get(0);
        assertThat(workload.path("name").asText()).isEqualTo("synthetic minilm-shakespeare/L2H0 n=3000");
        assertThat(workload.path("keys").asInt()).isEqualTo(3000);
        assertThat(workload.path("gap_key_sd").asDouble()).isPositive();
        assertThat(workload.path("top100_mass_mean").asDouble()).isBetween(0.0, 1.0);
        assertThat(workload.path("fitted_to").path("gap_key_sd").asDouble()).isPositive();

        JsonNode rows = root.path("rows");
        // An exact index ignores the budget: one row per query set (decode queries, held-out keys).
        assertThat(rows.size()).isEqualTo(2);
        Set<String> sets = new HashSet<>();
        for (JsonNode row : rows) {
            assertThat(row.path("name").asText()).isNotBlank();
            assertThat(row.path("index").asText()).isEqualTo("flat");
            sets.add(row.path("queries").asText());
            assertThat(row.path("n").asInt()).isEqualTo(3000);
            assertThat(row.path("query_count").asInt()).isEqualTo(40);
            assertThat(row.path("budget").asInt()).isEqualTo(3000);
            assertThat(row.path("recall_at_10").asDouble()).isEqualTo(1.0);
            assertThat(row.path("recall_at_100").asDouble()).isEqualTo(1.0);
            assertThat(row.path("scanned_fraction").asDouble()).isEqualTo(1.0);
            for (String key : List.of("qps", "ms_per_query", "build_s", "memory_MB")) {
                assertThat(row.path(key).isNumber()).as(key).isTrue();
                assertThat(row.path(key).asDouble()).as(key).isPositive();
            }
        }
        assertThat(sets).containsExactlyInAnyOrder("ood", "id");
        assertThat(root.path("skipped").size()).isZero();

        assertThat(Arrays.copyOf(Files.readAllBytes(png), PNG_SIGNATURE.length)).isEqualTo(PNG_SIGNATURE);
        Path replot = dir.resolve("replot.png");
        assertThat(PlotCommand.run(new String[] {"--json", json.toString(), "--png", replot.toString()}, System.err)).isZero();
        assertThat(Arrays.copyOf(Files.readAllBytes(replot), PNG_SIGNATURE.length)).isEqualTo(PNG_SIGNATURE);
    }

    /** The timed second build takes the first's exact top-k from memory and makes the same graph: the same recall. */
    @Test
    void aBuildWithCachedTopKAnswersAsAPlainOne(@TempDir Path dir) throws Exception {
        JsonNode[] rows = new JsonNode[2];
        for (int run = 0; run < 2; run++) {
            Path json = dir.resolve("index" + run + ".json");
            List<String> args = new java.util.ArrayList<>(List.of("--synthetic", "2000", "--head", "L5H4", "--queries", "30", "--train", "400",
                    "--indexes", "attention", "--budgets", "0.05,0.1", "--scorer", "simd", "--no-id", "--json", json.toString()));
            if (run == 1) {
                args.add("--cached-topk");
            }
            assertThat(IndexBench.run(args.toArray(String[]::new), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                    System.err)).isZero();
            rows[run] = new ObjectMapper().readTree(json.toFile()).path("rows");
        }
        assertThat(rows[1].size()).isEqualTo(rows[0].size()).isEqualTo(2);
        for (int i = 0; i < rows[0].size(); i++) {
            assertThat(rows[0].get(i).path("build_topk_cached").asBoolean()).isFalse();
            assertThat(rows[1].get(i).path("build_topk_cached").asBoolean()).isTrue();
            assertThat(rows[1].get(i).path("build_topk_cache_hits").asLong()).as("the second build's top-k from the first's").isPositive();
            assertThat(rows[1].get(i).path("recall_at_100").asDouble()).isEqualTo(rows[0].get(i).path("recall_at_100").asDouble());
            assertThat(rows[1].get(i).path("build_s").asDouble()).isPositive();
        }
    }

    @Test
    void anIndexThatCannotBeBuiltIsSkippedWithItsReason() throws Exception {
        // A class path without the kind's library (the GPU machine's trimmed one): skipped, and says why.
        IndexFactory missing = new IndexFactories.ByKind(IndexKind.LUCENE, "org.example.NoSuchLibrary");
        assertThat(missing.unavailableReason()).contains("org.example.NoSuchLibrary", "not on the class path");

        // The wired factories either build or say why not; none pretends.
        KvWorkload w = OodWorkloadGenerator.generate(OodWorkloadGenerator.defaults("L2H0"), 500, 50, 5, 1);
        try (SimdScorer scorer = new SimdScorer(1)) {
            for (IndexFactory f : IndexFactories.all().values()) {
                String reason = f.unavailableReason();
                if (reason != null) {
                    assertThat(reason).isNotBlank();
                    continue;
                }
                assertThat(f.name()).isIn(IndexFactories.NAMES);
            }
            try (var flat = IndexFactories.get("flat").build(w, new IndexFactory.Context(scorer, 50, null, System.err, 0))) {
                assertThat(flat.size()).isEqualTo(500);
            }
        }
    }

    @Test
    void badArgumentsExitWithTwo() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertThat(IndexBench.run(new String[] {"--synthetic", "1000", "--indexes", "faiss"}, System.out, e)).isEqualTo(2);
        assertThat(IndexBench.run(new String[] {"--json", "x.json"}, System.out, e)).isEqualTo(2);
        assertThat(IndexBench.run(new String[] {"--synthetic", "0"}, System.out, e)).isEqualTo(2);
        assertThat(IndexBench.run(new String[] {"--synthetic", "1000", "--head", "L9H9"}, System.out, e)).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown index 'faiss'", "--kv DIR or --synthetic N", "L9H9");
    }

    @Test
    void recallCountsTheTrueIdsFound() {
        assertThat(IndexBench.recall(new long[] {1, 2, 3, 9}, 4, Set.of(1L, 2L, 3L, 4L))).isEqualTo(0.75);
        assertThat(IndexBench.recall(new long[] {1, 2, 3, 9}, 2, Set.of(1L, 2L))).isEqualTo(1.0);
        assertThat(IndexBench.recall(new long[0], 0, Set.of())).isEqualTo(1.0);
    }
}
