package dev.attend.search;

import dev.attend.index.lucene.DocumentIndex;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Merging a lexical and a dense ranking into one. */
public final class Fusion {

    /** Reciprocal rank fusion's constant (Cormack et al. 2009). */
    public static final int RRF_K = 60;

    private Fusion() {
    }

    /** A fused hit: its fused score and each ranking's score and 1-based rank (NaN and 0 where it did not appear). */
    public record Fused(String id, double score, float lexicalScore, int lexicalRank, float denseScore, int denseRank) {
    }

    /** Reciprocal rank fusion: sum over the rankings of 1 / (RRF_K + rank). */
    public static List<Fused> reciprocalRank(List<DocumentIndex.Hit> lexical, List<DocumentIndex.Hit> dense, int k) {
        return fuse(lexical, dense, k, (l, d) -> (l.rank > 0 ? 1.0 / (RRF_K + l.rank) : 0) + (d.rank > 0 ? 1.0 / (RRF_K + d.rank) : 0));
    }

    /**
     * Normalised linear fusion: each ranking's scores min-max scaled to [0, 1] over its own list (a document
     * missing from a list counts 0 there), then {@code lexicalWeight * lexical + (1 - lexicalWeight) * dense}.
     */
    public static List<Fused> linear(List<DocumentIndex.Hit> lexical, List<DocumentIndex.Hit> dense, double lexicalWeight, int k) {
        if (!(lexicalWeight >= 0 && lexicalWeight <= 1)) {
            throw new IllegalArgumentException("the lexical weight must be in [0, 1], got " + lexicalWeight);
        }
        double[] lr = range(lexical);
        double[] dr = range(dense);
        return fuse(lexical, dense, k, (l, d) -> lexicalWeight * (l.rank > 0 ? scale(l.score, lr) : 0)
                + (1 - lexicalWeight) * (d.rank > 0 ? scale(d.score, dr) : 0));
    }

    private record Seen(float score, int rank) {
    }

    private interface Score {
        double of(Seen lexical, Seen dense);
    }

    private static List<Fused> fuse(List<DocumentIndex.Hit> lexical, List<DocumentIndex.Hit> dense, int k, Score score) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be >= 1, got " + k);
        }
        Map<String, Seen[]> seen = new LinkedHashMap<>();
        for (int i = 0; i < lexical.size(); i++) {
            seen.computeIfAbsent(lexical.get(i).id(), id -> new Seen[] {absent(), absent()})[0] = new Seen(lexical.get(i).score(), i + 1);
        }
        for (int i = 0; i < dense.size(); i++) {
            seen.computeIfAbsent(dense.get(i).id(), id -> new Seen[] {absent(), absent()})[1] = new Seen(dense.get(i).score(), i + 1);
        }
        List<Fused> out = new ArrayList<>(seen.size());
        for (Map.Entry<String, Seen[]> e : seen.entrySet()) {
            Seen l = e.getValue()[0];
            Seen d = e.getValue()[1];
            out.add(new Fused(e.getKey(), score.of(l, d), l.score, l.rank, d.score, d.rank));
        }
        // ties: the better of the two ranks first, then the id (deterministic)
        out.sort(Comparator.comparingDouble(Fused::score).reversed()
                .thenComparingInt(f -> Math.min(f.lexicalRank() > 0 ? f.lexicalRank() : Integer.MAX_VALUE,
                        f.denseRank() > 0 ? f.denseRank() : Integer.MAX_VALUE))
                .thenComparing(Fused::id));
        return out.subList(0, Math.min(k, out.size()));
    }

    private static Seen absent() {
        return new Seen(Float.NaN, 0);
    }

    private static double[] range(List<DocumentIndex.Hit> hits) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (DocumentIndex.Hit h : hits) {
            lo = Math.min(lo, h.score());
            hi = Math.max(hi, h.score());
        }
        return new double[] {lo, hi};
    }

    private static double scale(float score, double[] range) {
        return range[1] > range[0] ? (score - range[0]) / (range[1] - range[0]) : 1;
    }
}
