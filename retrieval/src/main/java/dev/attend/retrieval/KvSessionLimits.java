package dev.attend.retrieval;

import java.util.Locale;
import java.util.function.Function;

/**
 * What a KV session may declare and hold, checked before anything is allocated or written: a shape over the limits
 * is refused at {@link KvSessionStore#create} with an {@link IllegalArgumentException} naming the limit and its
 * configuration key, and a prefill or append that would pass the token or byte limits is refused before it is
 * journaled with a {@link KvLimitException}.
 *
 * <p>Bytes are <em>charged</em> per token written, an estimate of what the token costs once indexed: its key and value
 * at the storage precision, and for each index of its KV head {@code 2 maxDegree} int links (and for the HNSW
 * baseline, which keeps its own vectors, a float32 copy of the key: the attention-aware index reads the session's); a prefill query costs its float32 copy until the index is built. A charge is never given back while the
 * session lives (a streaming head that drops tokens stays charged for them), so the charge bounds what a session can
 * grow to; {@link KvSession#memoryBytes()} reports what it holds now.
 *
 * <p>Defaults, and why: at most 1024 layers and 1024 KV heads per layer (the largest open models have under 200
 * layers and at most 128 KV heads), 65,536 KV heads per session (each head costs about a kilobyte of bookkeeping once
 * written, none before), 64 query heads per KV head (grouped-query attention uses 4 to 16), 16,777,216 tokens per head
 * (16 M: a head of float32 keys and values of dimension 128 is then 16 GiB), half the heap per session and three
 * quarters of it for all sessions of a store, so that one session can never starve the rest and a quarter of the heap
 * stays for index builds, requests and the other modules.
 *
 * @param maxLayers              largest {@code layers} ({@value #KEY_MAX_LAYERS})
 * @param maxKvHeads             largest {@code kvHeads} per layer ({@value #KEY_MAX_KV_HEADS})
 * @param maxHeadsPerSession     largest {@code layers x kvHeads} ({@value #KEY_MAX_HEADS_PER_SESSION})
 * @param maxQueryHeadsPerKvHead largest {@code queryHeadsPerKvHead} ({@value #KEY_MAX_QUERY_HEADS_PER_KV_HEAD})
 * @param maxTokensPerHead       positions a KV head may reach ({@value #KEY_MAX_TOKENS_PER_HEAD})
 * @param maxSessionBytes        bytes one session may be charged ({@value #KEY_MAX_SESSION_BYTES})
 * @param maxTotalBytes          bytes all sessions of a store may be charged together ({@value #KEY_MAX_TOTAL_BYTES})
 */
public record KvSessionLimits(int maxLayers, int maxKvHeads, int maxHeadsPerSession, int maxQueryHeadsPerKvHead,
                              int maxTokensPerHead, long maxSessionBytes, long maxTotalBytes) {

    public static final String KEY_MAX_LAYERS = "attend.kv-max-layers";
    public static final String KEY_MAX_KV_HEADS = "attend.kv-max-kv-heads";
    public static final String KEY_MAX_HEADS_PER_SESSION = "attend.kv-max-heads-per-session";
    public static final String KEY_MAX_QUERY_HEADS_PER_KV_HEAD = "attend.kv-max-query-heads-per-kv-head";
    public static final String KEY_MAX_TOKENS_PER_HEAD = "attend.kv-max-tokens-per-head";
    public static final String KEY_MAX_SESSION_BYTES = "attend.kv-max-session-bytes";
    public static final String KEY_MAX_TOTAL_BYTES = "attend.kv-max-total-bytes";

    /** Bookkeeping charged for a KV head once it is first written (its state, stores and lists). */
    static final long HEAD_OVERHEAD_BYTES = 1024;

    public KvSessionLimits {
        positive(KEY_MAX_LAYERS, maxLayers);
        positive(KEY_MAX_KV_HEADS, maxKvHeads);
        positive(KEY_MAX_HEADS_PER_SESSION, maxHeadsPerSession);
        positive(KEY_MAX_QUERY_HEADS_PER_KV_HEAD, maxQueryHeadsPerKvHead);
        positive(KEY_MAX_TOKENS_PER_HEAD, maxTokensPerHead);
        positive(KEY_MAX_SESSION_BYTES, maxSessionBytes);
        positive(KEY_MAX_TOTAL_BYTES, maxTotalBytes);
    }

    private static void positive(String key, long value) {
        if (value < 1) {
            throw new IllegalArgumentException(key + " must be >= 1, got " + value);
        }
    }

    /** The defaults above, the byte limits taken from this JVM's heap ({@link Runtime#maxMemory()}). */
    public static KvSessionLimits defaults() {
        long heap = Runtime.getRuntime().maxMemory();
        if (heap == Long.MAX_VALUE) {
            heap = 4L << 30; // no limit set: as if 4 GiB
        }
        return new KvSessionLimits(1024, 1024, 65_536, 64, 1 << 24, Math.max(1, heap / 2), Math.max(1, heap / 4 * 3));
    }

    /**
     * The shape limits of {@link #defaults()} without token or byte limits: what a {@link KvSession} made on its own,
     * outside a store, follows (benchmarks and demos hold what they choose).
     */
    public static KvSessionLimits shapeOnly() {
        KvSessionLimits d = defaults();
        return new KvSessionLimits(d.maxLayers, d.maxKvHeads, d.maxHeadsPerSession, d.maxQueryHeadsPerKvHead, Integer.MAX_VALUE,
                Long.MAX_VALUE, Long.MAX_VALUE);
    }

    /**
     * The limits configured under the keys above ({@code lookup} gives a key's value or null), each one absent taken
     * from {@link #defaults()}; byte limits take a plain number or a suffix {@code k}, {@code m}, {@code g}, {@code t}
     * (powers of 1024) or {@code %} of the heap.
     */
    public static KvSessionLimits from(Function<String, String> lookup) {
        KvSessionLimits d = defaults();
        return new KvSessionLimits(
                (int) number(lookup, KEY_MAX_LAYERS, d.maxLayers, false),
                (int) number(lookup, KEY_MAX_KV_HEADS, d.maxKvHeads, false),
                (int) number(lookup, KEY_MAX_HEADS_PER_SESSION, d.maxHeadsPerSession, false),
                (int) number(lookup, KEY_MAX_QUERY_HEADS_PER_KV_HEAD, d.maxQueryHeadsPerKvHead, false),
                (int) number(lookup, KEY_MAX_TOKENS_PER_HEAD, d.maxTokensPerHead, false),
                number(lookup, KEY_MAX_SESSION_BYTES, d.maxSessionBytes, true),
                number(lookup, KEY_MAX_TOTAL_BYTES, d.maxTotalBytes, true));
    }

    private static long number(Function<String, String> lookup, String key, long fallback, boolean bytes) {
        String raw = lookup.apply(key);
        if (raw == null || raw.isBlank()) {
            return fallback;
        }
        String v = raw.strip().toLowerCase(Locale.ROOT);
        try {
            if (bytes && v.endsWith("%")) {
                double share = Double.parseDouble(v.substring(0, v.length() - 1)) / 100;
                if (!(share > 0 && share <= 1)) {
                    throw new NumberFormatException();
                }
                return (long) (Runtime.getRuntime().maxMemory() * share);
            }
            long unit = 1;
            if (bytes && !v.isEmpty() && "kmgt".indexOf(v.charAt(v.length() - 1)) >= 0) {
                unit = 1L << (10 * ("kmgt".indexOf(v.charAt(v.length() - 1)) + 1));
                v = v.substring(0, v.length() - 1);
            }
            long n = Math.multiplyExact(Long.parseLong(v.strip()), unit);
            if (n < 1 || (!bytes && n > Integer.MAX_VALUE)) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(key + " must be a positive " + (bytes ? "number of bytes (k, m, g, t or % of the heap)"
                    : "integer") + ", got '" + raw + "'");
        }
    }

    /** The same with other byte limits. */
    public KvSessionLimits withBytes(long perSession, long total) {
        return new KvSessionLimits(maxLayers, maxKvHeads, maxHeadsPerSession, maxQueryHeadsPerKvHead, maxTokensPerHead, perSession, total);
    }

    /** The same with another token limit per head. */
    public KvSessionLimits withMaxTokensPerHead(int tokens) {
        return new KvSessionLimits(maxLayers, maxKvHeads, maxHeadsPerSession, maxQueryHeadsPerKvHead, tokens, maxSessionBytes, maxTotalBytes);
    }

    /** Refuses a shape over the limits, naming the limit and its key; allocates nothing. */
    public void check(KvSessionConfig c) {
        over("layers", c.layers(), maxLayers, KEY_MAX_LAYERS);
        over("kvHeads", c.kvHeads(), maxKvHeads, KEY_MAX_KV_HEADS);
        over("layers x kvHeads", (long) c.layers() * c.kvHeads(), maxHeadsPerSession, KEY_MAX_HEADS_PER_SESSION);
        over("queryHeadsPerKvHead", c.queryHeadsPerKvHead(), maxQueryHeadsPerKvHead, KEY_MAX_QUERY_HEADS_PER_KV_HEAD);
        long fixed = fixedBytes(c);
        if (fixed > maxSessionBytes) {
            throw new IllegalArgumentException("a session of " + c.layers() + " layers x " + c.kvHeads() + " KV heads needs " + fixed
                    + " bytes before its first token, over the limit of " + maxSessionBytes + " bytes per session (" + KEY_MAX_SESSION_BYTES + ")");
        }
    }

    private static void over(String what, long value, long limit, String key) {
        if (value > limit) {
            throw new IllegalArgumentException(what + " = " + value + " is over the limit of " + limit + " (" + key + ")");
        }
    }

    /** Bytes a session of this shape is charged before any token: its table of heads and its recent queries per layer. */
    static long fixedBytes(KvSessionConfig c) {
        return 16L * c.layers() * c.kvHeads() + (long) c.layers() * KvSession.RECENT_QUERIES * (4L * c.headDim() + 32);
    }

    /** Bytes charged per token of a KV head (its key and value, and per index its links, and an HNSW index's key copy). */
    static long tokenBytes(KvSessionConfig c) {
        long kv = 2L * c.headDim() * c.storage().bytes();
        long copy = c.retriever() == KvSessionConfig.Retriever.HNSW ? 4L * c.headDim() : 0;
        long index = (long) c.indexesPerKvHead() * (copy + 8L * c.indexParams().maxDegree());
        return kv + index;
    }

    /** Bytes charged per prefill query kept to train an index. */
    static long queryBytes(KvSessionConfig c) {
        return 4L * c.headDim() + 16;
    }
}
