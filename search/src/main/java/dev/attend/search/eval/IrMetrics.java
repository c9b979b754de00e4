package dev.attend.search.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Ranking measures for one query: nDCG, reciprocal rank and recall at a cut-off {@code k}, and their means over a set
 * of queries ({@link Summary}). Relevance is graded: a query's relevant documents map to their grades (each above 0;
 * binary judgments grade every relevant document 1). nDCG gains a document's grade, as trec_eval's {@code ndcg_cut}
 * does; reciprocal rank and recall count every graded document as relevant.
 *
 * <p>A ranking is a list of document ids, best first. An id that repeats earlier in the ranking counts
 * only at its first rank: later copies take their ranks but earn nothing, so a ranking cannot gain by
 * repeating a relevant document. A ranking shorter than {@code k} is scored as it is (the missing ranks
 * earn nothing). With no relevant documents every measure is 0.
 */
public final class IrMetrics {

    private IrMetrics() {
    }

    /**
     * Normalised discounted cumulative gain at {@code k}: the sum over the first {@code k} ranks of
     * {@code grade / log2(rank + 1)} for each relevant document, divided by the same sum for an ideal ranking,
     * which puts the {@code k} highest grades first. In [0, 1].
     */
    public static double ndcgAt(List<String> ranked, Map<String, Integer> grades, int k) {
        checkCutoff(k);
        if (grades.isEmpty()) {
            return 0;
        }
        int[] ideal = new int[grades.size()];
        int i = 0;
        for (Map.Entry<String, Integer> e : grades.entrySet()) {
            if (e.getValue() <= 0) {
                throw new IllegalArgumentException("document " + e.getKey() + " has grade " + e.getValue() + ": relevant documents' grades are above 0");
            }
            ideal[i++] = e.getValue();
        }
        Arrays.sort(ideal);
        double dcg = 0;
        for (int rank : relevantRanks(ranked, grades.keySet(), k)) {
            dcg += grades.get(ranked.get(rank - 1)) * discount(rank);
        }
        double idealDcg = 0;
        for (int rank = 1; rank <= Math.min(k, ideal.length); rank++) {
            idealDcg += ideal[ideal.length - rank] * discount(rank);
        }
        return dcg / idealDcg;
    }

    /** Binary relevance as grades: every document in {@code relevant} graded 1. */
    public static Map<String, Integer> binary(Set<String> relevant) {
        Map<String, Integer> grades = new LinkedHashMap<>();
        for (String id : relevant) {
            grades.put(id, 1);
        }
        return grades;
    }

    /** {@code 1 / rank} of the first relevant document within the first {@code k} ranks, else 0. */
    public static double reciprocalRankAt(List<String> ranked, Map<String, Integer> grades, int k) {
        checkCutoff(k);
        List<Integer> ranks = relevantRanks(ranked, grades.keySet(), k);
        return ranks.isEmpty() ? 0 : 1.0 / ranks.getFirst();
    }

    /** The share of the relevant documents found within the first {@code k} ranks; 0 when none is relevant. */
    public static double recallAt(List<String> ranked, Map<String, Integer> grades, int k) {
        checkCutoff(k);
        if (grades.isEmpty()) {
            return 0;
        }
        return (double) relevantRanks(ranked, grades.keySet(), k).size() / grades.size();
    }

    /**
     * Means over queries of nDCG@10, reciprocal rank@10 (MRR@10), recall@10 and recall@100.
     *
     * @param queries how many queries the means are over
     */
    public record Summary(double ndcg10, double mrr10, double recall10, double recall100, int queries) {

        /**
         * The means over queries, where {@code rankings.get(i)} is the ranking for the query whose relevant
         * documents' grades are {@code grades.get(i)}. A query with no relevant documents scores 0 on every
         * measure and still counts, so pass only judged queries ({@link TestCollection#judgedQueries()}).
         *
         * @throws IllegalArgumentException when the lists differ in length or are empty
         */
        public static Summary of(List<List<String>> rankings, List<Map<String, Integer>> grades) {
            if (rankings.size() != grades.size()) {
                throw new IllegalArgumentException(rankings.size() + " rankings but " + grades.size()
                        + " sets of grades: one of each per query");
            }
            if (rankings.isEmpty()) {
                throw new IllegalArgumentException("no queries to summarise");
            }
            double ndcg10 = 0;
            double mrr10 = 0;
            double recall10 = 0;
            double recall100 = 0;
            for (int q = 0; q < rankings.size(); q++) {
                ndcg10 += ndcgAt(rankings.get(q), grades.get(q), 10);
                mrr10 += reciprocalRankAt(rankings.get(q), grades.get(q), 10);
                recall10 += recallAt(rankings.get(q), grades.get(q), 10);
                recall100 += recallAt(rankings.get(q), grades.get(q), 100);
            }
            int n = rankings.size();
            return new Summary(ndcg10 / n, mrr10 / n, recall10 / n, recall100 / n, n);
        }
    }

    /** {@code 1 / log2(rank + 1)}: the weight of a relevant document at a 1-based rank. */
    private static double discount(int rank) {
        return Math.log(2) / Math.log(rank + 1);
    }

    /** The 1-based ranks, within the first {@code k}, at which a relevant document appears for the first time. */
    private static List<Integer> relevantRanks(List<String> ranked, Set<String> relevant, int k) {
        List<Integer> ranks = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int rank = 1; rank <= Math.min(k, ranked.size()); rank++) {
            String id = ranked.get(rank - 1);
            if (seen.add(id) && relevant.contains(id)) {
                ranks.add(rank);
            }
        }
        return ranks;
    }

    private static void checkCutoff(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("cut-off k must be at least 1, got " + k);
        }
    }
}
