package dev.attend.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One session of {@code bench model}: a KV session of the workload's shape ({@link ModelKv}: in process or over HTTP),
 * prefilled layer by layer as an inference engine streams it (every KV head of a layer, each in chunks, the index build
 * waiting for its last chunk), waited on until every KV head's index is ready, then decoded token by token with one
 * layer decode per layer carrying all its query heads. Keeps the times, the decode statistics and the accuracy checks
 * it made.
 */
final class ModelSession implements AutoCloseable {

    /** Seconds between progress lines. */
    private static final long PROGRESS_NANOS = 5_000_000_000L;

    private final ModelKv session;
    private final ModelWorkload workload;
    private final ModelWorkload.Shape shape;
    /** Per layer and decode step: each KV head's key and value, each query head's query (what decodeLayer takes). */
    private final float[][][][] stepKeys;
    private final float[][][][] stepValues;
    private final float[][][][] stepQueries;

    long generationNanos;
    /** Time in prefill calls: each layer's wall time from its first call to its last answer (the rows read from the generated stores included). */
    long prefillNanos;
    long prefillStart;
    long prefillEnd;
    long readyAt;
    /** The process's CPU time when the prefill began and when every head was ready (the cores the builds kept busy). */
    long cpuAtPrefillStart;
    long cpuAtReady;
    /** KV heads ready over time: {seconds after the prefill began, heads}, a point each time the count was seen to change. */
    final List<double[]> readyCurve = new ArrayList<>();

    ModelSession(ModelKv session, ModelWorkload workload) {
        this.session = session;
        this.workload = workload;
        this.shape = workload.shape();
        this.stepKeys = new float[shape.layers()][shape.steps()][shape.kvHeads()][];
        this.stepValues = new float[shape.layers()][shape.steps()][shape.kvHeads()][];
        this.stepQueries = new float[shape.layers()][shape.steps()][shape.queryHeads()][];
    }

    ModelKv session() {
        return session;
    }

    /**
     * Generates and prefills every layer: with {@code ahead} all layers are generated before the first prefill (the
     * prefill and the index builds then have the cores to themselves), else each layer just before its prefill (half
     * the memory, but generation shares the cores with the builds of the layers before).
     */
    void prefill(boolean ahead, int chunk, PrintStream err) {
        List<ModelWorkload.Head[]> layers = new ArrayList<>();
        if (ahead) {
            long t0 = System.nanoTime();
            layers.addAll(Arrays.asList(workload.layers()));
            generationNanos += System.nanoTime() - t0;
            err.printf(Locale.ROOT, "[model] %s: generated %d layers in %.1f s%n", session.id(), shape.layers(), generationNanos / 1e9);
        }
        long lastReport = System.nanoTime();
        // A layer's KV heads are handed over together, as an engine has them, when the session takes concurrent calls.
        ExecutorService perHead = Executors.newFixedThreadPool(session.concurrentPrefill() ? shape.kvHeads() : 1);
        try {
            for (int l = 0; l < shape.layers(); l++) {
                ModelWorkload.Head[] heads = ahead ? layers.set(l, null) : generate(l); // prefilled layers are let go
                prefillLayer(l, heads, chunk, perHead);
                int ready = readyHeads();
                noteReady(ready, System.nanoTime());
                if (System.nanoTime() - lastReport >= PROGRESS_NANOS) {
                    err.printf(Locale.ROOT, "[model] %s: %d of %d layers prefilled, %d of %d KV heads ready, %.1f s%n", session.id(), l + 1,
                            shape.layers(), ready, shape.layers() * shape.kvHeads(), (System.nanoTime() - prefillStart) / 1e9);
                    lastReport = System.nanoTime();
                }
            }
        } finally {
            perHead.shutdownNow();
        }
        prefillEnd = System.nanoTime();
    }

    /**
     * One layer's KV heads on {@code perHead}'s threads (one thread: one head after another, in order); {@link #prefillNanos}
     * counts the layer's wall time.
     */
    private void prefillLayer(int layer, ModelWorkload.Head[] heads, int chunk, ExecutorService perHead) {
        long t0 = System.nanoTime();
        if (prefillStart == 0) {
            prefillStart = t0;
            cpuAtPrefillStart = processCpuNanos();
        }
        List<Future<?>> running = new ArrayList<>();
        for (int h = 0; h < shape.kvHeads(); h++) {
            int kvHead = h;
            running.add(perHead.submit(() -> prefillHead(layer, kvHead, heads[kvHead], chunk)));
        }
        Futures.joinAll(running);
        prefillNanos += System.nanoTime() - t0;
    }

    private ModelWorkload.Head[] generate(int layer) {
        long t0 = System.nanoTime();
        ModelWorkload.Head[] heads = workload.layer(layer);
        generationNanos += System.nanoTime() - t0;
        return heads;
    }

    /** One KV head's prefill in chunks of {@code chunk} tokens, each with its share of every query head's queries (in token order). */
    private void prefillHead(int layer, int kvHead, ModelWorkload.Head head, int chunk) {
        int n = shape.tokens();
        int group = shape.group();
        int perHead = head.training()[0].size();
        for (int from = 0; from < n; from += chunk) {
            int to = Math.min(n, from + chunk);
            float[][] keys = DecodeWorkload.rows(head.keys(), from, to);
            float[][] values = DecodeWorkload.rows(head.values(), from, to);
            int qFrom = (int) ((long) perHead * from / n);
            int qTo = (int) ((long) perHead * to / n);
            float[][] queries = new float[(qTo - qFrom) * group][];
            int[] queryHeads = new int[queries.length];
            for (int i = qFrom, j = 0; i < qTo; i++) {
                for (int g = 0; g < group; g++, j++) {
                    queries[j] = head.training()[g].row(i);
                    queryHeads[j] = kvHead * group + g;
                }
            }
            session.prefill(layer, kvHead, from, keys, values, queries, queryHeads, to < n);
        }
        for (int s = 0; s < shape.steps(); s++) {
            stepKeys[layer][s][kvHead] = head.keys().row(n + s);
            stepValues[layer][s][kvHead] = head.values().row(n + s);
            for (int g = 0; g < group; g++) {
                stepQueries[layer][s][kvHead * group + g] = head.decodeQueries()[g][s];
            }
        }
    }

    private void noteReady(int ready, long now) {
        if (readyCurve.isEmpty() || readyCurve.getLast()[1] != ready) {
            readyCurve.add(new double[] {(now - prefillStart) / 1e9, ready});
        }
    }

    /** KV heads whose index is built. */
    int readyHeads() {
        int ready = 0;
        List<String> states = session.indexStates();
        for (int i = 0; i < states.size(); i++) {
            String state = states.get(i);
            if (state.startsWith("failed")) {
                throw new IllegalStateException("KV head " + i / shape.kvHeads() + "/" + i % shape.kvHeads() + ": " + state);
            }
            ready += state.equals("ready") ? 1 : 0;
        }
        return ready;
    }

    /**
     * Polls until every KV head's index is ready (as {@code lm}'s head readiness does; every head has keys beyond its
     * static set), with a progress line every few seconds; an {@link IllegalStateException} names a head whose build
     * failed.
     */
    void awaitReady(long timeoutSeconds, PrintStream err) throws InterruptedException, TimeoutException {
        int total = shape.layers() * shape.kvHeads();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        long lastReport = System.nanoTime();
        while (true) {
            int ready = readyHeads();
            long now = System.nanoTime();
            noteReady(ready, now);
            if (ready == total) {
                readyAt = now;
                cpuAtReady = processCpuNanos();
                return;
            }
            if (now - lastReport >= PROGRESS_NANOS) {
                err.printf(Locale.ROOT, "[model] %d of %d KV heads ready, %.1f s%n", ready, total, (now - prefillStart) / 1e9);
                lastReport = now;
            }
            if (now > deadline) {
                throw new TimeoutException(ready + " of " + total + " KV heads ready after " + timeoutSeconds + " s");
            }
            Thread.sleep(50);
        }
    }

    /**
     * What {@link #decode} measured: the time of each timed token (all layers), and over HTTP the server's own time of
     * it (its layer decodes' {@code Server-Timing} summed; empty in process), keys scanned over all attends, attends,
     * attends answered flat (a head not ready; -1 where the transport does not say), the accuracy checks, and the
     * process's CPU time during the timed tokens (every thread's, other sessions' included).
     */
    record Decoded(long[] tokenNanos, long[] serverNanos, long keysScanned, long attends, long flatAnswers,
                   List<Map<String, Object>> checks, long cpuNanos) {
    }

    /**
     * Decodes {@code warmup} untimed tokens, then {@code timed} timed ones; after the timed tokens {@code checkSteps} says
     * (indexes among them), checks the answer of each of {@code checkHeads} ({layer, queryHead}) against exact attention
     * ({@link ModelKv#checkAccuracy} at the default budget; not part of the token's time). {@code warmedUp} runs
     * between the warm-up and the timed tokens (where concurrent sessions wait for each other).
     */
    Decoded decode(int warmup, int timed, List<int[]> checkHeads, int[] checkSteps, Runnable warmedUp) {
        long[] tokenNanos = new long[timed];
        long[] serverNanos = new long[timed];
        boolean timedByServer = true;
        long scanned = 0;
        long attends = 0;
        long flat = 0;
        long cpuNanos = 0;
        List<Map<String, Object>> checks = new ArrayList<>();
        int next = 0;
        for (int s = 0; s < warmup + timed; s++) {
            if (s == warmup) {
                warmedUp.run();
            }
            long cpu0 = s < warmup ? 0 : processCpuNanos();
            long t0 = System.nanoTime();
            ModelKv.Answer[] answers = step(s);
            long elapsed = System.nanoTime() - t0;
            if (s < warmup) {
                continue;
            }
            cpuNanos += processCpuNanos() - cpu0;
            tokenNanos[s - warmup] = elapsed;
            for (ModelKv.Answer a : answers) {
                for (long k : a.keysScanned()) {
                    scanned += k;
                }
                attends += a.keysScanned().length;
                flat = flat < 0 || a.flat() < 0 ? -1 : flat + a.flat();
                timedByServer &= a.serverNanos() >= 0;
                serverNanos[s - warmup] += a.serverNanos();
            }
            if (next < checkSteps.length && checkSteps[next] == s - warmup) {
                next++;
                for (int[] lq : checkHeads) {
                    checks.add(check(lq[0], lq[1], s));
                }
            }
        }
        return new Decoded(tokenNanos, timedByServer ? serverNanos : new long[0], scanned, attends, flat, checks, cpuNanos);
    }

    /** Decode step {@code s} (position tokens + s; the steps go in order): one layer decode per layer, their answers. */
    ModelKv.Answer[] step(int s) {
        int position = shape.tokens() + s;
        ModelKv.Answer[] answers = new ModelKv.Answer[shape.layers()];
        for (int l = 0; l < shape.layers(); l++) {
            answers[l] = session.decodeLayer(l, position, stepKeys[l][s], stepValues[l][s], stepQueries[l][s]);
        }
        return answers;
    }

    private Map<String, Object> check(int layer, int queryHead, int step) {
        ModelKv.Accuracy a = session.checkAccuracy(layer, queryHead, stepQueries[layer][step][queryHead]);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer", layer);
        m.put("query_head", queryHead);
        m.put("position", shape.tokens() + step);
        m.put("params", workload.sets().get((layer * shape.kvHeads() + queryHead / shape.group()) % workload.sets().size()).source());
        m.put("mode", a.mode());
        m.put("key_recall", a.keyRecall());
        m.put("relative_error", a.relativeError());
        m.put("mass_kept", a.massKept());
        m.put("keys_scanned", a.keysScanned());
        return m;
    }

    /**
     * The session's memory ({@link ModelKv#memory}): its own account, the keys and values and the indexes its KV heads
     * hold, and the same keys and values in float16, the yardstick.
     */
    Map<String, Object> memory() {
        ModelKv.Memory memory = session.memory();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("session_bytes", memory.sessionBytes());
        m.put("kv_bytes", memory.kvBytes());
        m.put("index_bytes", memory.indexBytes());
        m.put("float16_kv_bytes", memory.float16KvBytes());
        m.put("ratio_to_float16_kv", (double) memory.sessionBytes() / memory.float16KvBytes());
        return m;
    }

    @Override
    public void close() {
        session.close();
    }

    /** CPU time of this process, all threads (-1 where the platform does not say). */
    static long processCpuNanos() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
    }
}
