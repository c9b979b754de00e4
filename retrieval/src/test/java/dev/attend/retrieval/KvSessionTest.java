package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.retrieval.policy.LogSumExpMerge;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.assertj.core.api.Assertions;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class KvSessionTest {

    private static final long SEED = Long.getLong("attend.test.seed", 11L);
    private static final int DIM = 32;
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        scorer = Scorers.create("simd");
        System.out.println("KvSessionTest seed " + SEED);
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    /** Runs builds on the calling thread, so a test sees the index right after prefill. */
    private static final Executor NOW = Runnable::run;

    /** Holds builds until {@link #run} is called. */
    private static final class Held implements Executor {
        final List<Runnable> tasks = new ArrayList<>();

        @Override
        public void execute(Runnable r) {
            tasks.add(r);
        }

        void run() {
            tasks.forEach(Runnable::run);
            tasks.clear();
        }
    }

    private static KvSessionConfig config(int sinks, int window, int topK) {
        return config(sinks, window, topK, (float) (1 / Math.sqrt(DIM)));
    }

    private static KvSessionConfig config(int sinks, int window, int topK, float scale) {
        return new KvSessionConfig(2, 2, 2, DIM, sinks, window, topK, scale,
                new AttentionAwareIndex.Params(24, 50, 8, 32, 4), Precision.FLOAT32,
                KvSessionConfig.Retriever.ATTENTION_AWARE, false, HeadPolicies.defaults());
    }

    private static float[][] rows(SplittableRandom rnd, int n, double shift) {
        float[][] out = new float[n][DIM];
        for (float[] row : out) {
            for (int c = 0; c < DIM; c++) {
                row[c] = (float) (rnd.nextGaussian() + (c == 0 ? shift : 0));
            }
        }
        return out;
    }

    private static double relativeError(float[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (double) (a[i] - b[i]);
            den += b[i] * (double) b[i];
        }
        return Math.sqrt(num / den);
    }

    @Test
    void mergeOfStaticAndRetrievedEqualsExactAttentionWhenEveryKeyIsRetrieved() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int n = 700;
        try (KvSession s = new KvSession("exact", config(16, 64, 1000), scorer, NOW)) {
            s.prefill(1, 1, 0, rows(rnd, n, 0), rows(rnd, n, 0), rows(rnd, 300, 1.5));
            assertThat(s.indexState(1, 1).state()).isEqualTo("ready");
            assertThat(s.indexState(1, 1).indexedKeys()).isEqualTo(n - 16 - 64);
            for (float[] q : rows(rnd, 20, 1.5)) {
                AttendResult r = s.attend(1, 3, q, Integer.MAX_VALUE);
                AttendResult exact = s.attendExact(1, 3, q);
                assertThat(r.stats().mode()).isEqualTo("index");
                assertThat(r.stats().retrievedKeys()).isEqualTo(n - 16 - 64);
                assertThat(r.stats().staticKeys()).isEqualTo(16 + 64);
                assertThat(relativeError(r.output(), exact.output())).isLessThan(1e-5);
                assertThat(r.logSumExp()).isCloseTo(exact.logSumExp(), Offset.offset(1e-5 * Math.abs(exact.logSumExp())));
            }
        }
    }

    @Test
    void topKRetrievalKeepsMostOfTheAttentionOutput() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        int n = 3000;
        float[][] keys = rows(rnd, n, 0);
        float[][] values = rows(rnd, n, 0);
        // Logits four times sharper than 1/sqrt(d): attention concentrated on few keys, as in real heads
        // (with Gaussian keys at 1/sqrt(d) it spreads over all of them and no top-k can hold it).
        try (KvSession s = new KvSession("topk", config(16, 64, 100, (float) (4 / Math.sqrt(DIM))), scorer, NOW)) {
            s.prefill(0, 0, 0, keys, values, rows(rnd, 1500, 1.5));
            float scale = s.config().scale();
            double retrieved = 0;
            double exactTop = 0;
            double fewer = 0;
            float[][] queries = rows(rnd, 30, 1.5);
            for (float[] q : queries) {
                float[] exact = s.attendExact(0, 0, q).output();
                AttendResult r = s.attend(0, 1, q, n / 2);
                assertThat(r.stats().mode()).isEqualTo("index");
                assertThat(r.stats().keysScanned()).isLessThanOrEqualTo(16 + 64 + n / 2);
                retrieved += relativeError(r.output(), exact);
                exactTop += relativeError(staticPlusExactTop(q, keys, values, 16, 64, 100, scale), exact);
                // A budget too small to find the top keys loses more of the output.
                fewer += relativeError(s.attend(0, 1, q, 5).output(), exact);
            }
            System.out.printf("top-100 of %d keys: mean relative output error %.4f at budget n/2 (exact top-100: %.4f), %.4f at budget 5%n",
                    n, retrieved / queries.length, exactTop / queries.length, fewer / queries.length);
            assertThat(retrieved).isLessThan(1.5 * exactTop).isLessThan(fewer);
        }
    }

    /**
     * The accuracy check compares an answer with full attention: perfect while the head answers flat, and with an
     * index its recall of the true top-k, its kept mass and its error agree with what the answer did (a budget too
     * small to search loses recall and mass). Attend calls are remembered per layer, the latest
     * {@link KvSession#RECENT_QUERIES}; checks are not.
     */
    @Test
    void accuracyChecksCompareAnswersWithFullAttentionAndRecentQueriesAreKept() {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        int n = 2000;
        Held builds = new Held();
        try (KvSession s = new KvSession("accuracy", config(16, 64, 50, (float) (4 / Math.sqrt(DIM))), scorer, builds)) {
            s.prefill(0, 0, 0, rows(rnd, n, 0), rows(rnd, n, 0), rows(rnd, 1000, 1.5));
            float[] q = rows(rnd, 1, 1.5)[0];
            KvSession.AccuracyCheck flat = s.checkAccuracy(0, 1, q, 1000);
            assertThat(flat.answer().mode()).isEqualTo("flat");
            // the same keys both times; the SIMD sums may round differently between two compilations of the code
            assertThat(flat.relativeError()).isLessThan(1e-6);
            assertThat(flat.massKept()).isCloseTo(1.0, Offset.offset(1e-6));
            assertThat(flat.keyRecall()).isEqualTo(1.0);
            builds.run();
            double wide = 0;
            double narrow = 0;
            double narrowMass = 0;
            double wideMass = 0;
            float[][] queries = rows(rnd, 20, 1.5);
            for (float[] x : queries) {
                KvSession.AccuracyCheck a = s.checkAccuracy(0, 1, x, n);
                KvSession.AccuracyCheck b = s.checkAccuracy(0, 1, x, 3);
                assertThat(a.answer().mode()).isEqualTo("index");
                assertThat(a.massKept()).isBetween(0.0, 1.0 + 1e-9);
                AttendResult same = s.attend(0, 1, x, n);
                assertThat(a.relativeError()).isCloseTo(relativeError(same.output(), s.attendExact(0, 1, x).output()),
                        Offset.offset(1e-6));
                wide += a.keyRecall();
                wideMass += a.massKept();
                narrow += b.keyRecall();
                narrowMass += b.massKept();
            }
            System.out.printf("accuracy check: recall %.3f / mass %.3f at budget n, %.3f / %.3f at budget 3%n", wide / queries.length,
                    wideMass / queries.length, narrow / queries.length, narrowMass / queries.length);
            assertThat(wide).isGreaterThan(narrow);
            assertThat(wideMass).isGreaterThan(narrowMass);
            assertThat(wide / queries.length).isGreaterThan(0.8);
            List<KvSession.HeadQuery> recent = s.recentQueries(0);
            assertThat(recent).hasSize(queries.length); // the attends above; the checks are not recorded
            for (float[] x : queries) {
                s.attend(0, 3, x, n);
            }
            recent = s.recentQueries(0);
            assertThat(recent).hasSize(KvSession.RECENT_QUERIES); // 40 attends, the latest 32 kept
            assertThat(recent.get(recent.size() - 1).queryHead()).isEqualTo(3);
            assertThat(recent.get(recent.size() - 1).query()).containsExactly(queries[queries.length - 1]);
            assertThat(s.recentQueries(1)).isEmpty();
            Assertions.assertThatThrownBy(() -> s.recentQueries(2)).hasMessageContaining("layer 2");
        }
    }

    /** Plain attention over the sinks, the window and the exact top-k of the other keys by logit. */
    private static float[] staticPlusExactTop(float[] q, float[][] keys, float[][] values, int sinks, int window, int k, float scale) {
        int n = keys.length;
        double[] logit = new double[n];
        Integer[] middle = new Integer[n - sinks - window];
        for (int i = 0; i < n; i++) {
            double dot = 0;
            for (int c = 0; c < q.length; c++) {
                dot += q[c] * (double) keys[i][c];
            }
            logit[i] = scale * dot;
            if (i >= sinks && i < n - window) {
                middle[i - sinks] = i;
            }
        }
        Arrays.sort(middle, (a, b) -> Double.compare(logit[b], logit[a]));
        List<Integer> used = new ArrayList<>();
        for (int i = 0; i < sinks; i++) {
            used.add(i);
        }
        for (int i = n - window; i < n; i++) {
            used.add(i);
        }
        used.addAll(Arrays.asList(middle).subList(0, k));
        double max = used.stream().mapToDouble(i -> logit[i]).max().orElseThrow();
        double sum = 0;
        double[] acc = new double[q.length];
        for (int i : used) {
            double w = Math.exp(logit[i] - max);
            sum += w;
            for (int c = 0; c < acc.length; c++) {
                acc[c] += w * values[i][c];
            }
        }
        float[] out = new float[q.length];
        for (int c = 0; c < out.length; c++) {
            out[c] = (float) (acc[c] / sum);
        }
        return out;
    }

    @Test
    void appendsMoveTokensFromTheWindowIntoTheIndex() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        try (KvSession s = new KvSession("append", config(8, 32, 50), scorer, NOW)) {
            s.prefill(0, 1, 0, rows(rnd, 500, 0), rows(rnd, 500, 0), rows(rnd, 200, 1.0));
            assertThat(s.indexState(0, 1).indexedUpTo()).isEqualTo(500 - 32);
            float[][] keys = rows(rnd, 100, 0);
            float[][] values = rows(rnd, 100, 0);
            for (int i = 0; i < 100; i++) {
                s.append(0, 1, 500 + i, keys[i], values[i]);
            }
            KvSession.IndexState st = s.indexState(0, 1);
            assertThat(st.tokens()).isEqualTo(600);
            assertThat(st.indexedUpTo()).isEqualTo(600 - 32);
            assertThat(st.indexedKeys()).isEqualTo(600 - 32 - 8);
            // Every stored key is used exactly once: retrieving all of them reproduces exact attention.
            assertThat(s.length(0, 1)).isEqualTo(600);
            float[] q = rows(rnd, 1, 1.0)[0];
            AttendResult exact = s.attendExact(0, 2, q);
            assertThat(exact.stats().keysScanned()).isEqualTo(600);
        }
    }

    @Test
    void answersExactlyWhileTheIndexBuilds() {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        Held held = new Held();
        try (KvSession s = new KvSession("held", config(8, 32, 50), scorer, held)) {
            s.prefill(0, 0, 0, rows(rnd, 400, 0), rows(rnd, 400, 0), rows(rnd, 100, 1.0));
            assertThat(s.indexState(0, 0).state()).isEqualTo("building");
            float[] q = rows(rnd, 1, 1.0)[0];
            AttendResult r = s.attend(0, 0, q, 10);
            assertThat(r.stats().mode()).isEqualTo("flat");
            assertThat(relativeError(r.output(), s.attendExact(0, 0, q).output())).isLessThan(1e-6);
            // Tokens appended during the build wait in the static set, then enter the index when it is ready.
            float[][] more = rows(rnd, 50, 0);
            for (int i = 0; i < 50; i++) {
                s.append(0, 0, 400 + i, more[i], more[i]);
            }
            held.run();
            KvSession.IndexState st = s.indexState(0, 0);
            assertThat(st.state()).isEqualTo("ready");
            assertThat(st.indexedUpTo()).isEqualTo(450 - 32);
            assertThat(st.indexedKeys()).isEqualTo(450 - 32 - 8);
            assertThat(s.attend(0, 0, q, 1000).stats().mode()).isEqualTo("index");
        }
    }

    @Test
    void aSecondPrefillExtendsABuiltIndexWithItsTokensAndQueries() {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        try (KvSession s = new KvSession("two", config(8, 32, 1000), scorer, NOW)) {
            s.prefill(0, 0, 0, rows(rnd, 300, 0), rows(rnd, 300, 0), rows(rnd, 100, 1.0));
            long before = s.memoryBytes();
            s.prefill(0, 0, 300, rows(rnd, 200, 0), rows(rnd, 200, 0), rows(rnd, 100, 1.0));
            KvSession.IndexState st = s.indexState(0, 0);
            assertThat(st.tokens()).isEqualTo(500);
            assertThat(st.indexedUpTo()).isEqualTo(500 - 32);
            assertThat(st.indexedKeys()).isEqualTo(500 - 32 - 8);
            // Every key reachable: with all of them retrieved the answer is exact.
            float[] q = rows(rnd, 1, 1.0)[0];
            assertThat(relativeError(s.attend(0, 0, q, Integer.MAX_VALUE).output(), s.attendExact(0, 0, q).output())).isLessThan(1e-5);
            assertThat(s.memoryBytes()).isGreaterThan(before);
        }
    }

    @Test
    void chunkedPrefillBuildsOnceAfterTheLastChunk() {
        SplittableRandom rnd = new SplittableRandom(SEED + 6);
        Held builds = new Held();
        try (KvSession s = new KvSession("chunks", config(8, 32, 1000), scorer, builds)) {
            s.prefill(0, 0, 0, rows(rnd, 200, 0), rows(rnd, 200, 0), rows(rnd, 50, 1.0), true);
            s.prefill(0, 0, 200, rows(rnd, 200, 0), rows(rnd, 200, 0), rows(rnd, 50, 1.0), true);
            assertThat(builds.tasks).isEmpty();
            assertThat(s.indexState(0, 0).state()).isEqualTo("none");
            s.prefill(0, 0, 400, rows(rnd, 100, 0), rows(rnd, 100, 0), rows(rnd, 50, 1.0), false);
            assertThat(builds.tasks).hasSize(1);
            builds.run();
            KvSession.IndexState st = s.indexState(0, 0);
            assertThat(st.state()).isEqualTo("ready");
            assertThat(st.indexedKeys()).isEqualTo(500 - 32 - 8);
            float[] q = rows(rnd, 1, 1.0)[0];
            assertThat(relativeError(s.attend(0, 0, q, Integer.MAX_VALUE).output(), s.attendExact(0, 0, q).output())).isLessThan(1e-5);
        }
    }

    @Test
    void hnswRetrieverServesTheSameMerge() {
        SplittableRandom rnd = new SplittableRandom(SEED + 7);
        KvSessionConfig config = config(8, 32, 1000).withRetriever(KvSessionConfig.Retriever.HNSW);
        try (KvSession s = new KvSession("hnsw", config, scorer, NOW)) {
            s.prefill(0, 1, 0, rows(rnd, 400, 0), rows(rnd, 400, 0), rows(rnd, 50, 1.0));
            assertThat(s.indexState(0, 1).state()).isEqualTo("ready");
            for (int i = 400; i < 420; i++) {
                s.append(0, 1, i, rows(rnd, 1, 0)[0], rows(rnd, 1, 0)[0]);
            }
            assertThat(s.indexState(0, 1).indexedKeys()).isEqualTo(420 - 32 - 8);
            float[] q = rows(rnd, 1, 1.0)[0];
            AttendResult r = s.attend(0, 2, q, 1000, Integer.MAX_VALUE);
            assertThat(r.stats().mode()).isEqualTo("index");
            assertThat(r.retrieved()).hasSize(420 - 32 - 8);
            assertThat(relativeError(r.output(), s.attendExact(0, 2, q).output())).isLessThan(1e-5);
        }
    }

    @Test
    void anIndexPerQueryHeadTrainsOnItsOwnHeadsQueries() {
        SplittableRandom rnd = new SplittableRandom(SEED + 8);
        int n = 600;
        float[][] keys = rows(rnd, n, 0);
        float[][] values = rows(rnd, n, 0);
        float[][] queries = rows(rnd, 200, 1.5);
        int[] heads = new int[200];
        for (int i = 0; i < heads.length; i++) {
            heads[i] = 2 + i % 2; // query heads 2 and 3 read KV head 1
        }
        KvSessionConfig shared = config(8, 32, 1000);
        try (KvSession one = new KvSession("shared", shared, scorer, NOW);
             KvSession perHead = new KvSession("per-head", shared.withIndexPerQueryHead(true), scorer, NOW)) {
            one.prefill(0, 1, 0, keys, values, queries, heads, false);
            perHead.prefill(0, 1, 0, keys, values, queries, heads, false);
            KvSession.IndexState a = one.indexState(0, 1);
            KvSession.IndexState b = perHead.indexState(0, 1);
            assertThat(b.state()).isEqualTo("ready");
            assertThat(b.indexedKeys()).isEqualTo(a.indexedKeys()).isEqualTo(n - 8 - 32);
            // Two indexes, each with its own copy of the keys.
            assertThat(b.indexBytes()).isGreaterThan(a.indexBytes() * 3 / 2);
            for (int i = n; i < n + 40; i++) { // the keys that leave the window enter both indexes
                float[] k = rows(rnd, 1, 0)[0];
                perHead.append(0, 1, i, k, k);
            }
            for (int qh = 2; qh <= 3; qh++) {
                float[] q = rows(rnd, 1, 1.5)[0];
                AttendResult r = perHead.attend(0, qh, q, 1000, Integer.MAX_VALUE);
                assertThat(r.stats().retrievedKeys()).isEqualTo(n + 40 - 8 - 32);
                assertThat(relativeError(r.output(), perHead.attendExact(0, qh, q).output())).isLessThan(1e-5);
            }
            // A query attributed to a head of another KV head is refused whole.
            int[] wrong = heads.clone();
            wrong[7] = 0;
            assertThatThrownBy(() -> perHead.prefill(0, 1, n + 40, rows(rnd, 1, 0), rows(rnd, 1, 0), queries, wrong, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("query head 0");
            assertThat(perHead.length(0, 1)).isEqualTo(n + 40);
        }
    }

    @Test
    void decodedKeysEnterTheIndexOffTheAppendsPath() {
        SplittableRandom rnd = new SplittableRandom(SEED + 9);
        Held inserts = new Held();
        try (KvSession s = new KvSession("async", config(8, 32, 1000), scorer, NOW, inserts)) {
            s.prefill(0, 0, 0, rows(rnd, 300, 0), rows(rnd, 300, 0), rows(rnd, 60, 1.0));
            assertThat(s.indexState(0, 0).indexedUpTo()).isEqualTo(300 - 32);
            for (int i = 300; i < 340; i++) {
                s.append(0, 0, i, rows(rnd, 1, 0)[0], rows(rnd, 1, 0)[0]);
            }
            assertThat(inserts.tasks).hasSize(1); // one queued insertion serves every append before it runs
            // Not inserted yet: the 40 tokens that left the window are attended exactly with the static set.
            float[] q = rows(rnd, 1, 1.0)[0];
            AttendResult before = s.attend(0, 0, q, 1000, Integer.MAX_VALUE);
            assertThat(before.stats().staticKeys()).isEqualTo(8 + 32 + 40);
            assertThat(relativeError(before.output(), s.attendExact(0, 0, q).output())).isLessThan(1e-5);
            inserts.run();
            assertThat(s.indexState(0, 0).indexedUpTo()).isEqualTo(340 - 32);
            AttendResult after = s.attend(0, 0, q, 1000, Integer.MAX_VALUE);
            assertThat(after.stats().staticKeys()).isEqualTo(8 + 32);
            assertThat(relativeError(after.output(), before.output())).isLessThan(1e-5);
        }
    }

    @Test
    void attendsRunWhileOneWriterAppends() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 6);
        try (KvSession s = new KvSession("race", config(8, 32, 50), scorer, NOW)) {
            s.prefill(0, 0, 0, rows(rnd, 200, 0), rows(rnd, 200, 0), rows(rnd, 100, 1.0));
            float[][] keys = rows(rnd, 1500, 0);
            float[][] values = rows(rnd, 1500, 0);
            float[] q = rows(rnd, 1, 1.0)[0];
            AtomicBoolean done = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicInteger answers = new AtomicInteger();
            Thread reader = new Thread(() -> {
                try {
                    while (!done.get()) {
                        AttendResult r = s.attend(0, 1, q, 400);
                        for (float x : r.output()) {
                            assertThat(Float.isFinite(x)).isTrue();
                        }
                        assertThat(r.stats().staticKeys() + r.stats().retrievedKeys()).isLessThanOrEqualTo(s.length(0, 0));
                        answers.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            reader.start();
            for (int i = 0; i < keys.length; i++) {
                s.append(0, 0, 200 + i, keys[i], values[i]);
            }
            done.set(true);
            reader.join();
            assertThat(failure.get()).isNull();
            assertThat(answers.get()).isPositive();
            assertThat(s.indexState(0, 0).indexedUpTo()).isEqualTo(1700 - 32);
        }
    }

    @Test
    void badInputIsRejectedAndChangesNothing() {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        try (KvSession s = new KvSession("bad", config(8, 32, 50), scorer, NOW)) {
            s.prefill(0, 0, 0, rows(rnd, 100, 0), rows(rnd, 100, 0), rows(rnd, 50, 1.0));
            float[] ok = rows(rnd, 1, 0)[0];
            float[] nan = ok.clone();
            nan[3] = Float.NaN;
            assertThatThrownBy(() -> s.append(0, 0, 100, new float[DIM + 1], ok)).hasMessageContaining("dimension");
            assertThatThrownBy(() -> s.append(0, 0, 100, nan, ok)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> s.append(0, 0, 101, ok, ok)).hasMessageContaining("out of order");
            assertThatThrownBy(() -> s.append(2, 0, 100, ok, ok)).hasMessageContaining("layer 2");
            assertThatThrownBy(() -> s.append(0, 5, 100, ok, ok)).hasMessageContaining("KV head 5");
            assertThatThrownBy(() -> s.attend(0, 4, ok, 100)).hasMessageContaining("query head 4");
            assertThatThrownBy(() -> s.attend(0, 0, ok, 0)).hasMessageContaining("budget");
            float[][] two = rows(rnd, 2, 0);
            two[1] = nan;
            assertThatThrownBy(() -> s.prefill(0, 0, 100, two, rows(rnd, 2, 0), new float[0][])).hasMessageContaining("key 1");
            assertThat(s.length(0, 0)).isEqualTo(100);
            assertThat(s.indexState(0, 0).indexedUpTo()).isEqualTo(100 - 32);
        }
    }

    @Test
    void logSumExpMergeOfDisjointPartsIsExact() {
        // Two parts with far-apart log-sum-exps: no overflow, weights exp(lse_p - lse).
        LogSumExpMerge m = new LogSumExpMerge(2);
        m.add(new float[] {1, 0}, 1000);
        m.add(new float[] {0, 1}, 1000 + Math.log(3));
        m.add(new float[] {5, 5}, Double.NEGATIVE_INFINITY);
        assertThat(m.logSumExp()).isCloseTo(1000 + Math.log(4), Offset.offset(1e-9));
        assertThat(m.output()[0]).isCloseTo(0.25f, Offset.offset(1e-6f));
        assertThat(m.output()[1]).isCloseTo(0.75f, Offset.offset(1e-6f));
    }
}
