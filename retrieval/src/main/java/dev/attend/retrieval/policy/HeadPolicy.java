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
 *       new query's cosine with it stays at or above {@code threshold} (Recycled Attention, TokenSelect);</li>
 *   <li>{@link Block}: blocks of {@code blockSize} tokens, each represented by the per-dimension minimum and maximum of
 *       its keys, whose bound on a query's best score ranks the blocks (Quest); the best {@code blocks} are attended
 *       exactly;</li>
 *   <li>{@link RetrievalTail}: retrieval, plus an estimate of every key neither static nor retrieved from k-means
 *       clusters of the keys (centroid, value sum and size; RetroInfer), merged like the exact parts.</li>
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

    /** {@code tail}: with {@link RetrievalTail}'s estimate of the keys neither static nor retrieved. */
    record Recycled(int sinks, int window, int k, double threshold, boolean tail) implements HeadPolicy {

        public Recycled(int sinks, int window, int k, double threshold) {
            this(sinks, window, k, threshold, false);
        }

        public Recycled {
            checkStatic(sinks, window);
            checkK(k);
            if (!(threshold >= -1 && threshold <= 1) && !Double.isNaN(threshold)) {
                throw new IllegalArgumentException("a recycling threshold is a cosine in [-1, 1] (or NaN: calibrated), got " + threshold);
            }
        }

        /** Whether the threshold is calibrated on the prefill's queries when the head opens ({@code recycled:auto}). */
        public boolean calibrated() {
            return Double.isNaN(threshold);
        }

        @Override
        public String spec() {
            return (tail ? "recycled+tail:" : "recycled:") + (calibrated() ? "auto" : Double.toString(threshold));
        }
    }

    record Block(int sinks, int window, int blockSize, int blocks) implements HeadPolicy {
        public Block {
            checkStatic(sinks, window);
            if (blockSize < 1 || blocks < 1) {
                throw new IllegalArgumentException("blockSize and blocks must be >= 1, got " + blockSize + " and " + blocks);
            }
        }

        @Override
        public String spec() {
            return "block:" + blockSize;
        }
    }

    /** {@code clusters} 0: the square root of the indexed keys, chosen when the head opens. */
    record RetrievalTail(int sinks, int window, int k, int clusters) implements HeadPolicy {
        public RetrievalTail {
            checkStatic(sinks, window);
            checkK(k);
            if (clusters < 0) {
                throw new IllegalArgumentException("clusters must be >= 0 (0: the square root of the keys), got " + clusters);
            }
        }

        @Override
        public String spec() {
            return clusters == 0 ? "retrieval+tail" : "retrieval+tail:" + clusters;
        }
    }

    /** Whether a head under this policy builds an attention-aware index (slow to open: seconds per 10^4 keys). */
    default boolean buildsIndex() {
        return this instanceof Retrieval || this instanceof Recycled || this instanceof RetrievalTail;
    }

    /** Tokens per block that {@link #parse} gives {@code block} without a size. */
    int DEFAULT_BLOCK_SIZE = 16;

    /** The recycling threshold {@link #parse} gives {@code recycled} without one. */
    double DEFAULT_RECYCLE_THRESHOLD = 0.9;

    /**
     * A policy by name with the session's static set and k: {@code full}, {@code streaming}, {@code retrieval},
     * {@code recycled} or {@code recycled:<cosine threshold>} (and {@code recycled+tail...} with the tail estimate), {@code block} or {@code block:<tokens per block>} (as
     * many blocks as hold k tokens), {@code retrieval+tail} or {@code retrieval+tail:<clusters>}. Case and
     * surrounding blanks do not matter.
     */
    static HeadPolicy parse(String spec, int sinks, int window, int k) {
        if (spec == null) {
            throw new IllegalArgumentException("a head policy is required (" + NAMES + ")");
        }
        String s = spec.strip().toLowerCase(Locale.ROOT);
        if (s.startsWith("block:")) {
            int size = parseInt(spec, s.substring("block:".length()), "the block size");
            return new Block(sinks, window, size, Math.max(1, (k + size - 1) / Math.max(1, size)));
        }
        if (s.startsWith("retrieval+tail:")) {
            return new RetrievalTail(sinks, window, k, parseInt(spec, s.substring("retrieval+tail:".length()), "the cluster count"));
        }
        if (s.startsWith("recycled:") || s.startsWith("recycled+tail:")) {
            String t = s.substring(s.indexOf(':') + 1);
            if (t.equals("auto")) {
                return new Recycled(sinks, window, k, Double.NaN, s.startsWith("recycled+tail:"));
            }
            try {
                return new Recycled(sinks, window, k, Double.parseDouble(t), s.startsWith("recycled+tail:"));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + spec + "': the recycling threshold must be a number, got '" + t + "'");
            }
        }
        return switch (s) {
            case "full" -> new Full();
            case "streaming" -> new Streaming(sinks, window);
            case "retrieval" -> new Retrieval(sinks, window, k);
            case "recycled" -> new Recycled(sinks, window, k, DEFAULT_RECYCLE_THRESHOLD);
            case "recycled+tail" -> new Recycled(sinks, window, k, DEFAULT_RECYCLE_THRESHOLD, true);
            case "block" -> new Block(sinks, window, DEFAULT_BLOCK_SIZE, Math.max(1, (k + DEFAULT_BLOCK_SIZE - 1) / DEFAULT_BLOCK_SIZE));
            case "retrieval+tail" -> new RetrievalTail(sinks, window, k, 0);
            default -> throw new IllegalArgumentException("unknown head policy '" + spec + "' (" + NAMES + ")");
        };
    }

    /** The names {@link #parse} knows. */
    String NAMES = "full, streaming, retrieval, recycled[:threshold|:auto], recycled+tail[:threshold|:auto], block[:size], "
            + "retrieval+tail[:clusters]";

    private static int parseInt(String spec, String text, String what) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + spec + "': " + what + " must be a whole number, got '" + text + "'");
        }
    }

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
