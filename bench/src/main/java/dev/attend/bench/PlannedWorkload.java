package dev.attend.bench;

import dev.attend.bench.workload.DescribeOptions;
import dev.attend.bench.workload.KvWorkload;
import dev.attend.bench.workload.OodParameters;
import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.bench.workload.WorkloadStats;
import dev.attend.gpu.KvHead;
import dev.attend.gpu.Precision;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A workload {@code bench index} measures, loaded when its turn comes, and how the report names it.
 *
 * @param kind   {@code real} (a dumped head) or {@code synthetic}
 * @param label  its name in the report
 * @param load   makes the workload
 * @param params the generator's parameters of a synthetic workload, else null
 */
record PlannedWorkload(String kind, String label, Supplier<KvWorkload> load, OodParameters params) {

    /** The workloads {@code options} name: each head of each {@code --kv} directory, then each synthetic size and head. */
    static List<PlannedWorkload> plan(IndexOptions options) throws IOException {
        List<PlannedWorkload> plan = new ArrayList<>();
        for (Path dir : options.kvDirs()) {
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException("--kv " + dir + " is not a directory");
            }
            List<String> heads = KvHead.heads(dir);
            List<String> chosen = options.heads().isEmpty() ? heads : options.heads();
            for (String head : chosen) {
                if (!heads.contains(head)) {
                    throw new IllegalArgumentException(dir + " has no head '" + head + "' (meta.json lists " + heads + ")");
                }
                String label = dir.toAbsolutePath().normalize().getFileName() + "/" + head;
                plan.add(new PlannedWorkload("real", label, () -> {
                    try {
                        return KvWorkload.fromKvDir(dir, head);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }, null));
            }
        }
        List<String> heads = new ArrayList<>();
        for (String h : options.heads()) {
            try {
                OodWorkloadGenerator.defaults(h);
                heads.add(h);
            } catch (IllegalArgumentException notEmbedded) {
                if (options.kvDirs().isEmpty()) {
                    throw notEmbedded; // only --synthetic: the head must have embedded parameters
                }
            }
        }
        if (heads.isEmpty()) {
            heads.add(OodWorkloadGenerator.DEFAULT_HEAD);
        }
        for (int n : options.synthetic()) {
            for (String head : heads) {
                OodParameters embedded = OodWorkloadGenerator.defaults(head);
                OodParameters p = options.dim() > 0 ? OodWorkloadGenerator.atDimension(embedded, options.dim()) : embedded;
                int train = options.train() >= 0 ? options.train() : Math.min(n, IndexBench.SYNTHETIC_TRAIN_CAP);
                int queries = options.queries() > 0 ? options.queries() : KvWorkload.DECODE_STEPS;
                String fitted = p.source().startsWith("fit(") && p.source().endsWith(")")
                        ? p.source().substring(4, p.source().length() - 1) : p.source();
                // atDimension names the dimension in the parameters' source already.
                String shape = options.storage() == Precision.FLOAT32 ? "" : " " + options.storage().name().toLowerCase(Locale.ROOT);
                plan.add(new PlannedWorkload("synthetic", "synthetic " + fitted + " n=" + n + shape,
                        () -> OodWorkloadGenerator.generate(p, n, train, queries, options.seed(), options.storage()), p));
            }
        }
        return plan;
    }

    /** The workload with at most {@code max} test queries and held-out keys, evenly spaced (0: all). */
    static KvWorkload limitQueries(KvWorkload w, int max) {
        if (max <= 0 || (w.testQueries().length <= max && w.heldOutKeys().length <= max)) {
            return w;
        }
        return new KvWorkload(w.name(), w.keys(), w.trainingQueries(), spread(w.testQueries(), max), spread(w.heldOutKeys(), max),
                w.scale());
    }

    private static float[][] spread(float[][] rows, int max) {
        int m = Math.min(rows.length, max);
        float[][] out = new float[m][];
        for (int i = 0; i < m; i++) {
            out[i] = rows[(int) ((long) i * rows.length / m)];
        }
        return out;
    }

    /** The report's entry of the workload {@code w} loaded from this plan: its statistics (and its parameters' target). */
    Map<String, Object> describe(KvWorkload w, boolean ivf, PrintStream err) {
        long t0 = System.nanoTime();
        DescribeOptions d = DescribeOptions.DEFAULT.withIvf(ivf);
        WorkloadStats s = OodWorkloadGenerator.describe(w, d);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", label);
        m.put("kind", kind);
        m.putAll(withoutName(s.toMap()));
        m.put("training_queries", w.trainingQueries().size());
        m.put("test_queries", w.testQueries().length);
        if (params != null) {
            m.put("source", params.source());
            if (params.referenceKeys() < w.size()) {
                // The same statistics over as many keys as the real head had: the like-for-like comparison.
                WorkloadStats ref = OodWorkloadGenerator.describe(w, d.withSparsityKeys(params.referenceKeys()).withIvf(false));
                m.put("top100_mass_mean_at_reference_keys", ref.sparsity());
                m.put("reference_keys", params.referenceKeys());
            }
            if (params.target() != null) {
                m.put("fitted_to", withoutName(params.target().toMap()));
            }
        }
        err.printf(Locale.ROOT, "[index]   %s (%.1f s)%n", s.summary(), (System.nanoTime() - t0) / 1e9);
        if (params != null && params.target() != null) {
            err.printf(Locale.ROOT, "[index]   fitted to %s%n", params.target().summary());
        }
        return m;
    }

    private static Map<String, Object> withoutName(Map<String, Object> m) {
        Map<String, Object> copy = new LinkedHashMap<>(m);
        copy.remove("name");
        return copy;
    }
}
