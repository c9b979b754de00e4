package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.index.store.DamageLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shape, token and byte limits of KV sessions (issue 20): checked before anything is allocated or journaled. */
class KvSessionLimitsTest {

    private static final long SEED = Long.getLong("attend.test.seed", 22L);
    private static final int DIM = KvSessionStoreTest.DIM;
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        System.out.println("KvSessionLimitsTest seed " + SEED);
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static KvSessionStore store(Path root, KvSessionLimits limits) throws IOException {
        return new KvSessionStore(root, scorer, Runnable::run, Runnable::run, KvDurability.PROCESS, limits);
    }

    private static KvSessionConfig shape(int layers, int kvHeads, int group, int dim) {
        return new KvSessionConfig(layers, kvHeads, group, dim, 4, 16, 20, 0.35f, new AttentionAwareIndex.Params(16, 30, 4, 32, 4),
                Precision.FLOAT32, KvSessionConfig.Retriever.ATTENTION_AWARE, false, HeadPolicies.defaults());
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        return KvSessionStoreTest.rows(rnd, n);
    }

    @Test
    void shapesOverTheLimitsAreRefusedBeforeAnythingIsWritten(@TempDir Path root) throws Exception {
        try (KvSessionStore store = store(root, KvSessionLimits.defaults())) {
            Map<KvSessionConfig, String> refused = Map.of(
                    shape(1_000_000, 1_000_000, 1, 4), KvSessionLimits.KEY_MAX_LAYERS,
                    shape(1_000_000, 1, 1, 4), KvSessionLimits.KEY_MAX_LAYERS,
                    shape(1, 1_000_000, 1, 4), KvSessionLimits.KEY_MAX_KV_HEADS,
                    shape(1024, 1024, 1, 4), KvSessionLimits.KEY_MAX_HEADS_PER_SESSION,
                    shape(1, 1, 65, 4), KvSessionLimits.KEY_MAX_QUERY_HEADS_PER_KV_HEAD);
            for (Map.Entry<KvSessionConfig, String> e : refused.entrySet()) {
                assertThatThrownBy(() -> store.create("big", e.getKey())).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining(e.getValue());
                assertThat(KvSessionStoreDamageTest.tree(root)).containsOnlyKeys("");
            }
            assertThat(store.chargedBytes()).isZero();
            // The same checks for a session made alone.
            assertThatThrownBy(() -> new KvSession("big", shape(1_000_000, 1, 1, 4), scorer, Runnable::run))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(KvSessionLimits.KEY_MAX_LAYERS);
        }
        try (KvSessionStore store = store(root, KvSessionLimits.defaults())) {
            assertThat(store.size()).isZero();
            assertThat(store.unloaded()).isEmpty();
        }
    }

    @Test
    void aLegalButLargeShapeCostsNothingUntilWritten(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        KvSessionConfig wide = shape(1024, 64, 1, 4); // 65,536 KV heads: the most a session may declare
        try (KvSessionStore store = store(root, KvSessionLimits.defaults())) {
            KvSession s = store.create("wide", wide);
            long fixed = KvSessionLimits.fixedBytes(wide);
            assertThat(s.memoryBytes()).isEqualTo(fixed).isLessThan(4L << 20);
            assertThat(s.length(1023, 63)).isZero();
            assertThat(s.indexState(1023, 63).state()).isEqualTo("none");
            assertThat(s.memoryBytes()).as("reading a head makes nothing").isEqualTo(fixed);
            s.append(1023, 63, 0, new float[] {1, 2, 3, 4}, new float[] {4, 3, 2, 1});
            assertThat(s.memoryBytes()).isGreaterThan(fixed + KvSessionLimits.HEAD_OVERHEAD_BYTES);
            assertThat(s.chargedBytes()).isEqualTo(fixed + KvSessionLimits.HEAD_OVERHEAD_BYTES + KvSessionLimits.tokenBytes(wide));
            assertThat(store.chargedBytes()).isEqualTo(s.chargedBytes());
        }
        try (KvSessionStore store = store(root, KvSessionLimits.defaults())) {
            assertThat(store.get("wide").length(1023, 63)).isEqualTo(1);
            assertThat(store.get("wide").length(0, 0)).isZero();
            assertThat(store.delete("wide")).isTrue();
            assertThat(store.chargedBytes()).isZero();
        }
    }

    @Test
    void writesOverTheTokenLimitAreRefusedBeforeTheJournal(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        KvSessionLimits limits = KvSessionLimits.defaults().withMaxTokensPerHead(100);
        try (KvSessionStore store = store(root, limits)) {
            KvSession s = store.create("t", KvSessionStoreTest.config());
            s.prefill(0, 0, 0, rows(rnd, 90), rows(rnd, 90), rows(rnd, 10));
            long journal = Files.size(root.resolve("t/journal.log"));
            long charged = s.chargedBytes();
            assertThatThrownBy(() -> s.prefill(0, 0, 90, rows(rnd, 20), rows(rnd, 20), rows(rnd, 1)))
                    .isInstanceOfSatisfying(KvLimitException.class, e -> {
                        assertThat(e.scope()).isEqualTo(KvLimitException.Scope.SESSION);
                        assertThat(e.limitKey()).isEqualTo(KvSessionLimits.KEY_MAX_TOKENS_PER_HEAD);
                    });
            assertThat(Files.size(root.resolve("t/journal.log"))).isEqualTo(journal);
            assertThat(s.chargedBytes()).isEqualTo(charged);
            for (int i = 90; i < 100; i++) {
                s.append(0, 0, i, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            }
            assertThatThrownBy(() -> s.append(0, 0, 100, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)))
                    .isInstanceOf(KvLimitException.class).hasMessageContaining(KvSessionLimits.KEY_MAX_TOKENS_PER_HEAD);
            assertThat(s.length(0, 0)).isEqualTo(100);
        }
        try (KvSessionStore store = store(root, limits)) {
            assertThat(store.get("t").length(0, 0)).isEqualTo(100);
        }
    }

    @Test
    void sessionAndStoreByteLimitsRefuseWritesAndDeletingFreesTheStore(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        KvSessionConfig c = KvSessionStoreTest.config();
        long fixed = KvSessionLimits.fixedBytes(c);
        long token = KvSessionLimits.tokenBytes(c);
        long session = fixed + KvSessionLimits.HEAD_OVERHEAD_BYTES + 100 * token; // exactly 100 tokens on one head
        KvSessionLimits limits = KvSessionLimits.defaults().withBytes(session, session + fixed + KvSessionLimits.HEAD_OVERHEAD_BYTES + 10 * token);
        try (KvSessionStore store = store(root, limits)) {
            KvSession a = store.create("a", c);
            a.prefill(0, 0, 0, rows(rnd, 100), rows(rnd, 100), new float[0][]);
            assertThat(a.chargedBytes()).isEqualTo(session);
            assertThatThrownBy(() -> a.append(0, 0, 100, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)))
                    .isInstanceOfSatisfying(KvLimitException.class, e -> {
                        assertThat(e.scope()).isEqualTo(KvLimitException.Scope.SESSION);
                        assertThat(e.limitKey()).isEqualTo(KvSessionLimits.KEY_MAX_SESSION_BYTES);
                    });
            KvSession b = store.create("b", c);
            for (int i = 0; i < 10; i++) {
                b.append(0, 0, i, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            }
            long journal = Files.size(root.resolve("b/journal.log"));
            assertThatThrownBy(() -> b.append(0, 0, 10, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)))
                    .isInstanceOfSatisfying(KvLimitException.class, e -> {
                        assertThat(e.scope()).isEqualTo(KvLimitException.Scope.STORE);
                        assertThat(e.limitKey()).isEqualTo(KvSessionLimits.KEY_MAX_TOTAL_BYTES);
                    });
            assertThat(Files.size(root.resolve("b/journal.log"))).isEqualTo(journal);
            assertThat(b.length(0, 0)).isEqualTo(10);
            assertThat(store.delete("a")).isTrue();
            b.append(0, 0, 10, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            assertThat(store.chargedBytes()).isEqualTo(b.chargedBytes());
        }
    }

    @Test
    void aSessionOverTodaysLimitsIsSkippedInPlaceAndReportedAndTheRestComesUp(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        try (KvSessionStore store = store(root, KvSessionLimits.defaults())) {
            store.create("deep", shape(8, 1, 1, DIM)).append(7, 0, 0, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            store.create("long", KvSessionStoreTest.config()).prefill(0, 0, 0, rows(rnd, 200), rows(rnd, 200), new float[0][]);
            store.create("fine", KvSessionStoreTest.config()).append(0, 0, 0, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
        }
        int damageBefore = DamageLog.under(root).size();
        KvSessionLimits d = KvSessionLimits.defaults();
        KvSessionLimits tighter = new KvSessionLimits(4, d.maxKvHeads(), d.maxHeadsPerSession(), d.maxQueryHeadsPerKvHead(), 100,
                d.maxSessionBytes(), d.maxTotalBytes());
        try (KvSessionStore store = store(root, tighter)) {
            assertThat(store.ids()).containsExactly("fine");
            assertThat(store.unloaded()).extracting(KvSessionStore.Unloaded::id).containsExactlyInAnyOrder("deep", "long");
            assertThat(store.unloaded()).allSatisfy(u -> assertThat(u.reason()).containsAnyOf(KvSessionLimits.KEY_MAX_LAYERS,
                    KvSessionLimits.KEY_MAX_TOKENS_PER_HEAD));
            assertThat(DamageLog.under(root)).hasSize(damageBefore + 2).last().satisfies(x -> assertThat(x.quarantinedTo()).isNull());
            assertThat(store.chargedBytes()).isEqualTo(store.get("fine").chargedBytes()); // the skipped ones gave theirs back
            assertThatThrownBy(() -> store.create("deep", KvSessionStoreTest.config())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("not loaded");
        }
        assertThat(Files.exists(root.resolve("deep/journal.log"))).isTrue();
        try (KvSessionStore store = store(root, KvSessionLimits.defaults())) { // the limits raised again: all back
            assertThat(store.get("deep").length(7, 0)).isEqualTo(1);
            assertThat(store.get("long").length(0, 0)).isEqualTo(200);
            assertThat(store.unloaded()).isEmpty();
        }
    }

    @Test
    void limitsReadFromConfigurationKeys() {
        KvSessionLimits l = KvSessionLimits.from(Map.of(KvSessionLimits.KEY_MAX_LAYERS, "12", KvSessionLimits.KEY_MAX_SESSION_BYTES, "64m",
                KvSessionLimits.KEY_MAX_TOTAL_BYTES, "1g")::get);
        assertThat(l.maxLayers()).isEqualTo(12);
        assertThat(l.maxSessionBytes()).isEqualTo(64L << 20);
        assertThat(l.maxTotalBytes()).isEqualTo(1L << 30);
        assertThat(l.maxKvHeads()).isEqualTo(KvSessionLimits.defaults().maxKvHeads());
        assertThatThrownBy(() -> KvSessionLimits.from(Map.of(KvSessionLimits.KEY_MAX_LAYERS, "-1")::get))
                .hasMessageContaining(KvSessionLimits.KEY_MAX_LAYERS);
        assertThatThrownBy(() -> KvSessionLimits.from(Map.of(KvSessionLimits.KEY_MAX_TOTAL_BYTES, "lots")::get))
                .hasMessageContaining(KvSessionLimits.KEY_MAX_TOTAL_BYTES);
    }
}
