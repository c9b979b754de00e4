package dev.attend.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attend.gpu.OpenClScorer;
import dev.attend.gpu.Precision;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelBenchTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int bench(String... args) {
        out.reset();
        err.reset();
        return ModelBench.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void aScaledDownModelGetsReadyDecodesAndStaysNearItsFloat16Kv(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("model.json");
        // The bytelm parameter sets are fitted at d = 64: no magnitude to fit again at this head dimension.
        int rc = bench("--layers", "2", "--kv-heads", "2", "--query-heads-per-kv", "2", "--head-dim", "64", "--tokens", "4000",
                "--chunk", "1024", "--dtype", "float16", "--decode", "8", "--warmup", "2", "--params", "L0H0,L5H4", "--build-threads", "2",
                "--json", json.toString());
        assertThat(rc).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("prefill to ready", "decode per token", "recall@100", "session memory");

        JsonNode r = new ObjectMapper().readTree(json.toFile());
        for (String field : new String[] {"machine", "layers", "kv_heads", "query_heads_per_kv", "head_dim", "tokens", "dtype", "sessions",
            "decode", "train_queries_per_kv_head", "params", "budget", "generation", "generation_seconds", "prefill_seconds",
            "prefill_call_seconds", "prefill_to_ready_seconds", "ready_after_prefill_seconds", "heads", "heads_ready", "decode_ms_p50",
            "decode_ms_p99", "decode_ms_mean", "keys_scanned_per_attend", "scanned_fraction", "flat_answers", "recall_at_100_median",
            "recall_at_100_min", "relative_error_median", "mass_kept_median", "checks", "session_bytes", "kv_bytes", "index_bytes",
            "float16_kv_bytes", "memory_ratio_to_float16_kv", "heap_used_after_gc_bytes", "aggregate_tokens_per_s", "build_topk_calls",
            "build_topk_queries", "build_topk_thread_seconds", "build_topk_share_of_build_threads", "ready_curve"}) {
            assertThat(r.has(field)).as(field).isTrue();
        }
        assertThat(r.path("dtype").asText()).isEqualTo("float16");
        assertThat(r.path("heads").asInt()).isEqualTo(4);
        assertThat(r.path("heads_ready").asInt()).isEqualTo(4);
        assertThat(r.path("flat_answers").asLong()).isZero();
        // Every KV head's build asked for its training queries' exact top-k at least once.
        assertThat(r.path("build_topk_calls").asLong()).isGreaterThanOrEqualTo(4);
        assertThat(r.path("build_topk_queries").asLong()).isGreaterThanOrEqualTo(4L * r.path("train_queries_per_kv_head").asLong() / 2);
        assertThat(r.path("build_topk_share_of_build_threads").asDouble()).isBetween(0.0, 1.0);
        assertThat(r.path("prefill_to_ready_seconds").asDouble()).isGreaterThanOrEqualTo(r.path("prefill_seconds").asDouble());
        assertThat(r.path("decode_ms_p99").asDouble()).isGreaterThanOrEqualTo(r.path("decode_ms_p50").asDouble()).isPositive();
        // The ready curve climbs to every head, within the time to ready, and draws (two reports on one chart).
        JsonNode curve = r.path("ready_curve");
        assertThat(curve.size()).isGreaterThanOrEqualTo(2);
        for (int i = 1; i < curve.size(); i++) {
            assertThat(curve.get(i).get(0).asDouble()).isGreaterThanOrEqualTo(curve.get(i - 1).get(0).asDouble());
            assertThat(curve.get(i).get(1).asInt()).isNotEqualTo(curve.get(i - 1).get(1).asInt());
        }
        assertThat(curve.get(curve.size() - 1).get(1).asInt()).isEqualTo(4);
        assertThat(curve.get(curve.size() - 1).get(0).asDouble()).isLessThanOrEqualTo(r.path("prefill_to_ready_seconds").asDouble() + 1e-6);
        Path png = dir.resolve("ready.png");
        assertThat(PlotCommand.run(new String[] {"--json", json + "," + json, "--label", "a,b", "--png", png.toString()}, System.err)).isZero();
        assertThat(png).isNotEmptyFile();
        assertThat(PlotCommand.run(new String[] {"--json", json.toString(), "--label", "a,b", "--png", png.toString()}, System.err))
                .as("labels must match the reports").isEqualTo(2);
        // 4 sampled query heads at 4 decode steps.
        assertThat(r.path("checks")).hasSize(16);
        assertThat(r.path("recall_at_100_median").asDouble()).isBetween(0.0, 1.0);
        assertThat(r.path("keys_scanned_per_attend").asDouble()).isPositive().isLessThan(4096 + 10);
        assertThat(r.path("kv_bytes").asLong()).isGreaterThanOrEqualTo(r.path("float16_kv_bytes").asLong());
        // A tiny session carries more beside its KV than a large one: at d = 64 a key and value take 256 bytes in float16,
        // while the index's links (24 a key) and each head's bookkeeping do not shrink with d; and a store's last page
        // grows by doubling, up to twice its rows (4,000 tokens in chunks of 1,024 end a doubling at 4,096 rows; at 128K
        // tokens of d = 128 the last page is a sliver of 16,383-row pages).
        assertThat(r.path("memory_ratio_to_float16_kv").asDouble()).isGreaterThan(1.0).isLessThan(2.0);
    }

    /** On an OpenCL scorer the report says what the builds took of the device's slots. */
    @Test
    void onOpenClTheReportAccountsForTheDeviceSlots(@TempDir Path dir) throws Exception {
        assumeTrue(OpenClScorer.available(), "no OpenCL platform here (PoCL in CI)");
        Path json = dir.resolve("model.json");
        int rc = bench("--layers", "1", "--kv-heads", "2", "--query-heads-per-kv", "2", "--head-dim", "64", "--tokens", "6000",
                "--chunk", "2048", "--decode", "4", "--warmup", "1", "--params", "L0H0,L5H4", "--build-threads", "2",
                "--scorer", "opencl", "--json", json.toString());
        assertThat(rc).as(err.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("on the device", "launches and their lists' copies", "slots held", "cores busy");
        JsonNode r = new ObjectMapper().readTree(json.toFile());
        assertThat(r.path("build_slots").asInt()).isEqualTo(OpenClScorer.DEFAULT_BUILD_SLOTS);
        long calls = r.path("build_slot_calls").asLong();
        assertThat(calls).as("every KV head's build asked the device").isGreaterThanOrEqualTo(2).isLessThanOrEqualTo(r.path("build_topk_calls").asLong());
        assertThat(r.path("build_slot_launches").asLong()).isGreaterThanOrEqualTo(calls);
        double held = r.path("build_slot_held_seconds").asDouble();
        assertThat(r.path("build_slot_launch_seconds").asDouble()).isPositive().isLessThanOrEqualTo(held);
        assertThat(r.path("build_topk_layout_seconds").asDouble()).isPositive();
        assertThat(r.path("build_topk_merge_seconds").asDouble()).isPositive();
        assertThat(held).isLessThanOrEqualTo(r.path("build_topk_thread_seconds").asDouble());
        assertThat(r.path("build_slot_wait_seconds").asDouble()).isGreaterThanOrEqualTo(0);
        assertThat(r.path("build_slot_held_share").asDouble()).isBetween(0.0, 1.0);
    }

    @Test
    void badArgumentsExitWithTwo() {
        assertThat(bench("--tokens", "600")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--tokens must be above the static set");
        assertThat(bench("--dtype", "bfloat16")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--dtype must be float16 or float32");
        assertThat(bench("--decode", "0")).isEqualTo(2);
        assertThat(bench("--params", "nosuch")).isEqualTo(2);
        assertThat(bench("--generate", "later")).isEqualTo(2);
        assertThat(bench("--durability", "fsync")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--durability and --data-dir go with --over-http");
        assertThat(bench("--over-http", "--durability", "sometimes")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown durability");
        // An exabyte of journal: refused before anything is generated.
        assertThat(bench("--over-http", "--layers", "1024", "--kv-heads", "64", "--tokens", "16000000")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("the server's journal would take about", "--data-dir");
    }

    @Test
    void float16IsTheDefaultAboveOneGibOfFloat32Kv() {
        assertThat(ModelBench.storage(null, 1L << 30)).isEqualTo(Precision.FLOAT32);
        assertThat(ModelBench.storage(null, (1L << 30) + 1)).isEqualTo(Precision.FLOAT16);
        assertThat(ModelBench.storage("float32", 1L << 40)).isEqualTo(Precision.FLOAT32);
    }
}
