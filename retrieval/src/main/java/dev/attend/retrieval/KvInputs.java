package dev.attend.retrieval;

import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorChecks;
import dev.attend.gpu.VectorMath;
import java.util.Locale;
import java.util.Objects;

/**
 * What a {@link KvSession} accepts and answers: keys, values and queries finite and within the norms float32 attention
 * can weigh ({@link KvSession#MAX_SCORE}), and answers finite; bad input is an {@link IllegalArgumentException}.
 */
final class KvInputs {

    /** The largest magnitude float16 storage holds. */
    private static final float FLOAT16_MAX = 65504f;
    /** Squared norms within this share of the limit are accepted without the exact check (float's error over d terms is ~d x 6e-8). */
    private static final double NORM_MARGIN = 0.999;

    private final KvSessionConfig config;

    KvInputs(KvSessionConfig config) {
        this.config = config;
    }

    /** The largest norm of a key or query: {@code sqrt(MAX_SCORE / scale)} (106,400 at the scale 1/sqrt(128), 31,623 at the scale 1). */
    double maxNorm() {
        return Math.sqrt(KvSession.MAX_SCORE / config.scale());
    }

    /**
     * A key or value ({@code kind} and {@code index} name it in messages): finite; a key's norm at most {@link #maxNorm()},
     * a value's components at most {@link KvSession#MAX_ABS_VALUE} (float16: 65504).
     */
    void checkStored(String kind, int index, float[] v) {
        if (!clearlyAccepted(v, maxAbs(), kind.startsWith("key"))) {
            checkStoredExactly(kind + " " + index, v);
        }
    }

    /** The same for a vector {@code what} names alone. */
    void checkStored(String what, float[] v) {
        if (!clearlyAccepted(v, maxAbs(), what.startsWith("key"))) {
            checkStoredExactly(what, v);
        }
    }

    private void checkStoredExactly(String what, float[] v) {
        VectorChecks.checkVector(what, v, config.headDim());
        double max = maxAbs();
        for (int c = 0; c < v.length; c++) {
            if (Math.abs(v[c]) > max) {
                throw new IllegalArgumentException(what + " holds " + v[c] + " at component " + c + ": components must be within +-"
                        + (config.storage() == Precision.FLOAT16 ? "65504 (float16 storage)" : "1e9"));
            }
        }
        if (what.startsWith("key")) {
            checkNorm(what, v);
        }
    }

    private double maxAbs() {
        return config.storage() == Precision.FLOAT16 ? FLOAT16_MAX : KvSession.MAX_ABS_VALUE;
    }

    /** A query ({@code what} and {@code index} name it in messages): finite, its norm at most {@link #maxNorm()}. */
    void checkQuery(String what, int index, float[] v) {
        if (!clearlyAccepted(v, Double.POSITIVE_INFINITY, true)) {
            checkQueryExactly(what + " " + index, v);
        }
    }

    /** The same for a query {@code what} names alone. */
    void checkQuery(String what, float[] v) {
        if (!clearlyAccepted(v, Double.POSITIVE_INFINITY, true)) {
            checkQueryExactly(what, v);
        }
    }

    private void checkQueryExactly(String what, float[] v) {
        VectorChecks.checkVector(what, v, config.headDim());
        checkNorm(what, v);
    }

    /**
     * Whether {@code v} passes the exact checks for sure, from two SIMD passes (largest magnitude, squared norm in float
     * with a margin far above its rounding error): a prefill checks millions of vectors, and only one that may fail
     * takes the per-component checks that name what is wrong.
     */
    private boolean clearlyAccepted(float[] v, double maxAbs, boolean norm) {
        if (v == null || v.length != config.headDim()) {
            return false;
        }
        float largest = VectorMath.maxAbs(v, 0, v.length);
        if (!(largest <= maxAbs) || Float.isInfinite(largest)) { // NaN fails the comparison
            return false;
        }
        if (!norm) {
            return true;
        }
        double limit = maxNorm();
        return VectorMath.dot(v, 0, v, 0, v.length) <= NORM_MARGIN * limit * limit;
    }

    private void checkNorm(String what, float[] v) {
        double sq = 0;
        for (float x : v) {
            sq += (double) x * x;
        }
        double norm = Math.sqrt(sq);
        if (norm > maxNorm()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s has norm %.4g, over %.4g = sqrt(1e9 / scale): "
                    + "keys and queries that large make scores over 1e9, which float32 attention cannot weigh (NaN answers)", what, norm, maxNorm()));
        }
    }

    /**
     * The answer, checked: an output or log-sum-exp that is not finite is an {@link ArithmeticException}, never served.
     * The one exception: a head with no tokens answers zeros with a log-sum-exp of -infinity (no mass at all).
     */
    static AttendResult finite(int layer, int queryHead, AttendResult r) {
        boolean ok = !Double.isNaN(r.logSumExp()) && r.logSumExp() != Double.POSITIVE_INFINITY
                && (r.logSumExp() != Double.NEGATIVE_INFINITY || r.stats().keysScanned() == 0);
        for (float x : r.output()) {
            ok &= Float.isFinite(x);
        }
        if (!ok) {
            throw new ArithmeticException("attention of layer " + layer + ", query head " + queryHead + " is not finite (log-sum-exp "
                    + r.logSumExp() + "): the scores overflowed; nothing is answered");
        }
        return r;
    }

    /** A prefill chunk of KV head {@code kvHead}: as many keys as values, every vector checked, query heads that read this KV head. */
    void checkPrefill(int kvHead, float[][] keys, float[][] values, float[][] queries, int[] queryHeads) {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(queries, "queries");
        if (keys.length != values.length) {
            throw new IllegalArgumentException(keys.length + " keys but " + values.length + " values");
        }
        for (int i = 0; i < keys.length; i++) {
            checkStored("key", i, keys[i]);
            checkStored("value", i, values[i]);
        }
        for (int i = 0; i < queries.length; i++) {
            checkQuery("query", i, queries[i]);
        }
        int group = config.queryHeadsPerKvHead();
        if (queryHeads != null) {
            if (queryHeads.length != queries.length) {
                throw new IllegalArgumentException(queries.length + " queries but " + queryHeads.length + " query heads");
            }
            for (int i = 0; i < queryHeads.length; i++) {
                if (queryHeads[i] / group != kvHead || queryHeads[i] < 0) {
                    throw new IllegalArgumentException("query " + i + " names query head " + queryHeads[i] + ", which does not read KV head "
                            + kvHead + " (its query heads are [" + kvHead * group + ", " + (kvHead + 1) * group + "))");
                }
            }
        }
    }

    /** A decode step of a layer: a key and value per KV head, a query per query head, every vector checked, a budget >= 0. */
    void checkLayerStep(float[][] keys, float[][] values, float[][] queries, int budget) {
        int kvHeads = config.kvHeads();
        int queryHeads = config.queryHeads();
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(queries, "queries");
        if (keys.length != kvHeads || values.length != kvHeads) {
            throw new IllegalArgumentException("a layer step takes one key and one value per KV head: " + kvHeads + " of each, got "
                    + keys.length + " keys and " + values.length + " values");
        }
        if (queries.length != queryHeads) {
            throw new IllegalArgumentException("a layer step takes one query per query head: " + queryHeads + ", got " + queries.length);
        }
        if (budget < 0) {
            throw new IllegalArgumentException("budget must be >= 1 (or " + KvSession.DEFAULT_BUDGET + ": the default), got " + budget);
        }
        for (int h = 0; h < kvHeads; h++) {
            checkStored("key of KV head", h, keys[h]);
            checkStored("value of KV head", h, values[h]);
        }
        for (int q = 0; q < queryHeads; q++) {
            checkQuery("query of query head", q, queries[q]);
        }
    }
}
