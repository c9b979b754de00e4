package dev.attend.retrieval.policy;

import java.util.Locale;

/**
 * How one KV head answers decode queries. Every policy attends exactly over a static set (the first {@code sinks}
 * tokens and the last {@code window}); they differ in what else they read:
 * <ul>
 *   <li>{@link Full}: every key (the reference; no index);</li>
 *   <li>{@link Streaming}: nothing else, and the head keeps no other KV (DuoAttention's and RazorAttention's
 *       streaming heads): memory stays at sinks + window however long the sequence grows;</li>
 *   <li>{@link Retrieval}: the top k keys an attention-aware index retrieves (RetrievalAttention);</li>
 *   <li>{@link Recycled}: as retrieval, but the keys retrieved for the last searched query are used again while the
 *       new query's cosine with it stays at or above {@code threshold} (Recycled Attention, TokenSelect).</li>
 * </ul>
 */
public sealed interface HeadPolicy {

    int sinks();

    int window();

    /** The policy's name as {@link #parse} reads it. */
    String spec();

    record Full() implements HeadPolicy {
        @Override
        public int sinks() {
            return 0;
        }

        @Override
        public int window() {
            return 0;
        }

        @Override
        public String spec() {
            return "full";
        }
    }

    record Streaming(int sinks, int window) implements HeadPolicy {
        public Streaming {
            checkStatic(sinks, window);
            if (sinks + window < 1) {
                throw new IllegalArgumentException("a streaming head needs sinks + window >= 1");
            }
        }

        @Override
        public String spec() {
            return "streaming";
        }
    }

    record Retrieval(int sinks, int window, int k) implements HeadPolicy {
        public Retrieval {
            checkStatic(sinks, window);
            checkK(k);
        }

        @Override
        public String spec() {
            return "retrieval";
        }
    }

    record Recycled(int sinks, int window, int k, double threshold) implements HeadPolicy {
        public Recycled {
            checkStatic(sinks, window);
            checkK(k);
            if (!(threshold >= -1 && threshold <= 1)) {
                throw new IllegalArgumentException("a recycling threshold is a cosine in [-1, 1], got " + threshold);
            }
        }

        @Override
        public String spec() {
            return "recycled:" + threshold;
        }
    }

    /** The recycling threshold {@link #parse} gives {@code recycled} without one. */
    double DEFAULT_RECYCLE_THRESHOLD = 0.9;

    /**
     * A policy by name with the session's static set and k: {@code full}, {@code streaming}, {@code retrieval},
     * {@code recycled} or {@code recycled:<cosine threshold>}. Case and surrounding blanks do not matter.
     */
    static HeadPolicy parse(String spec, int sinks, int window, int k) {
        if (spec == null) {
            throw new IllegalArgumentException("a head policy is required (" + NAMES + ")");
        }
        String s = spec.strip().toLowerCase(Locale.ROOT);
        if (s.startsWith("recycled:")) {
            String t = s.substring("recycled:".length());
            try {
                return new Recycled(sinks, window, k, Double.parseDouble(t));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + spec + "': the recycling threshold must be a number, got '" + t + "'");
            }
        }
        return switch (s) {
            case "full" -> new Full();
            case "streaming" -> new Streaming(sinks, window);
            case "retrieval" -> new Retrieval(sinks, window, k);
            case "recycled" -> new Recycled(sinks, window, k, DEFAULT_RECYCLE_THRESHOLD);
            default -> throw new IllegalArgumentException("unknown head policy '" + spec + "' (" + NAMES + ")");
        };
    }

    /** The names {@link #parse} knows. */
    String NAMES = "full, streaming, retrieval, recycled[:threshold]";

    private static void checkStatic(int sinks, int window) {
        if (sinks < 0 || window < 0) {
            throw new IllegalArgumentException("sinks and window must be >= 0, got " + sinks + " and " + window);
        }
    }

    private static void checkK(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
    }
}
