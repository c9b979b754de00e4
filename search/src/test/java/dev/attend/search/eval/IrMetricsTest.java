package dev.attend.search.eval;

import static dev.attend.search.eval.IrMetrics.binary;
import static dev.attend.search.eval.IrMetrics.ndcgAt;
import static dev.attend.search.eval.IrMetrics.recallAt;
import static dev.attend.search.eval.IrMetrics.reciprocalRankAt;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attend.search.eval.IrMetrics.Summary;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class IrMetricsTest {

    private static final double EPS = 1e-4;

    // Discounts 1/log2(rank + 1): rank 1 -> 1, rank 2 -> 1/log2(3) = 0.6309, rank 3 -> 1/log2(4) = 0.5.

    private static final List<String> RANKED = List.of("d3", "d1", "d7");
    private static final Map<String, Integer> RELEVANT = binary(Set.of("d1", "d7", "d9"));

    @Test
    void ndcgOfAPartlyRightRanking() {
        // DCG@3 = 1/log2(3) + 1/log2(4) = 0.6309 + 0.5 = 1.1309 (d1 at rank 2, d7 at rank 3)
        // IDCG@3 = 1 + 0.6309 + 0.5 = 2.1309 (min(3, |relevant| = 3) relevant first)
        // nDCG@3 = 1.1309 / 2.1309 = 0.5307
        assertThat(ndcgAt(RANKED, RELEVANT, 3)).isCloseTo(0.5307, within(EPS));
        // DCG@2 = 0.6309; IDCG@2 = 1 + 0.6309 = 1.6309; nDCG@2 = 0.3869
        assertThat(ndcgAt(RANKED, RELEVANT, 2)).isCloseTo(0.3869, within(EPS));
        assertThat(ndcgAt(RANKED, RELEVANT, 1)).isZero();
    }

    @Test
    void ndcgIsOneForAnIdealRankingEvenWhenMoreAreRelevantThanK() {
        // IDCG@2 counts min(2, 5) = 2 relevant documents, so two relevant at ranks 1 and 2 are ideal.
        Map<String, Integer> five = binary(Set.of("a", "b", "c", "d", "e"));
        assertThat(ndcgAt(List.of("a", "b", "x"), five, 2)).isCloseTo(1.0, within(1e-12));
        assertThat(ndcgAt(List.of("d1", "d7", "d9"), RELEVANT, 3)).isCloseTo(1.0, within(1e-12));
    }

    @Test
    void reciprocalRankIsOfTheFirstRelevantWithinK() {
        assertThat(reciprocalRankAt(RANKED, RELEVANT, 3)).isEqualTo(0.5); // d1 at rank 2
        assertThat(reciprocalRankAt(RANKED, RELEVANT, 2)).isEqualTo(0.5);
        assertThat(reciprocalRankAt(RANKED, RELEVANT, 1)).isZero(); // d3 is not relevant
    }

    @Test
    void recallIsTheShareOfRelevantFoundWithinK() {
        assertThat(recallAt(RANKED, RELEVANT, 3)).isCloseTo(2.0 / 3, within(1e-12)); // d1, d7 of {d1, d7, d9}
        assertThat(recallAt(RANKED, RELEVANT, 2)).isCloseTo(1.0 / 3, within(1e-12)); // d1
        assertThat(recallAt(RANKED, RELEVANT, 1)).isZero();
    }

    @Test
    void aRankingShorterThanKIsScoredAsItIs() {
        // ranked [d1, d2], relevant {d1, d5}, k = 10: DCG = 1; IDCG = 1 + 0.6309 = 1.6309 (min(10, 2) = 2);
        // nDCG = 1 / 1.6309 = 0.6131
        List<String> shortList = List.of("d1", "d2");
        Map<String, Integer> relevant = binary(Set.of("d1", "d5"));
        assertThat(ndcgAt(shortList, relevant, 10)).isCloseTo(0.6131, within(EPS));
        assertThat(reciprocalRankAt(shortList, relevant, 10)).isEqualTo(1.0);
        assertThat(recallAt(shortList, relevant, 10)).isEqualTo(0.5);
        assertThat(ndcgAt(List.of(), relevant, 10)).isZero();
        assertThat(recallAt(List.of(), relevant, 10)).isZero();
    }

    @Test
    void noRelevantDocumentsScoresZero() {
        assertThat(ndcgAt(RANKED, Map.of(), 3)).isZero();
        assertThat(reciprocalRankAt(RANKED, Map.of(), 3)).isZero();
        assertThat(recallAt(RANKED, Map.of(), 3)).isZero();
    }

    @Test
    void aRepeatedDocumentCountsOnlyAtItsFirstRank() {
        // ranked [d1, d1, d7], relevant {d1, d7}: the second d1 holds rank 2 but earns nothing.
        // DCG@3 = 1 + 1/log2(4) = 1.5; IDCG@3 = 1 + 0.6309 = 1.6309 (min(3, 2) = 2); nDCG = 0.9197
        List<String> repeated = List.of("d1", "d1", "d7");
        Map<String, Integer> relevant = binary(Set.of("d1", "d7"));
        assertThat(ndcgAt(repeated, relevant, 3)).isCloseTo(0.9197, within(EPS));
        assertThat(recallAt(repeated, relevant, 3)).isEqualTo(1.0);
        // Repeating a relevant document neither finds more of them nor passes nDCG 1.
        assertThat(recallAt(List.of("d1", "d1"), relevant, 2)).isEqualTo(0.5);
        assertThat(ndcgAt(List.of("d1", "d1", "d1"), binary(Set.of("d1")), 3)).isCloseTo(1.0, within(1e-12));
        assertThat(reciprocalRankAt(List.of("x", "d1", "d1"), relevant, 3)).isEqualTo(0.5);
    }

    @Test
    void gradedNdcgGainsEachDocumentsGrade() {
        // grades {a: 3, b: 1}, ranked [b, a]: DCG@2 = 1 * 1 + 3 * 0.6309 = 2.8928; IDCG@2 = 3 * 1 + 1 * 0.6309 = 3.6309
        // (the highest grades first); nDCG@2 = 0.7967. Recall and reciprocal rank count both as relevant.
        Map<String, Integer> grades = Map.of("a", 3, "b", 1);
        assertThat(ndcgAt(List.of("b", "a"), grades, 2)).isCloseTo(0.7967, within(EPS));
        assertThat(ndcgAt(List.of("a", "b"), grades, 2)).isCloseTo(1.0, within(1e-12));
        // k = 1: DCG = 1 (b), IDCG = 3 (a): 1/3.
        assertThat(ndcgAt(List.of("b", "a"), grades, 1)).isCloseTo(1.0 / 3, within(1e-12));
        assertThat(reciprocalRankAt(List.of("b", "a"), grades, 2)).isEqualTo(1.0);
        assertThat(recallAt(List.of("x", "a"), grades, 2)).isEqualTo(0.5);
        // A grade of 0 or less is not a relevant document's: refused rather than silently scored.
        assertThatThrownBy(() -> ndcgAt(List.of("a"), Map.of("a", 0), 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("grade 0");
    }

    @Test
    void theCutOffMustBePositive() {
        assertThatThrownBy(() -> ndcgAt(RANKED, RELEVANT, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cut-off k must be at least 1, got 0");
        assertThatThrownBy(() -> reciprocalRankAt(RANKED, RELEVANT, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> recallAt(RANKED, RELEVANT, 0)).isInstanceOf(IllegalArgumentException.class);
        // Also when nothing is relevant: a bad k is a bug whatever the query.
        assertThatThrownBy(() -> ndcgAt(RANKED, Map.of(), 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void summaryAveragesOverQueries() {
        // Query 1: RANKED against RELEVANT: nDCG@10 = 0.5307 (as at 3), RR@10 = 0.5, recall@10 = recall@100 = 2/3.
        // Query 2: x1..x10 then r, relevant {r}: r at rank 11: nDCG@10 = RR@10 = recall@10 = 0, recall@100 = 1.
        List<String> late = new ArrayList<>(IntStream.rangeClosed(1, 10).mapToObj(i -> "x" + i).toList());
        late.add("r");
        Summary s = Summary.of(List.of(RANKED, late), List.of(RELEVANT, Map.of("r", 1)));
        assertThat(s.queries()).isEqualTo(2);
        assertThat(s.ndcg10()).isCloseTo(0.5307 / 2, within(EPS)); // (0.5307 + 0) / 2 = 0.2654
        assertThat(s.mrr10()).isCloseTo(0.25, within(1e-12)); // (0.5 + 0) / 2
        assertThat(s.recall10()).isCloseTo(1.0 / 3, within(1e-12)); // (2/3 + 0) / 2
        assertThat(s.recall100()).isCloseTo(5.0 / 6, within(1e-12)); // (2/3 + 1) / 2
    }

    @Test
    void summaryNeedsOneRelevantSetPerRanking() {
        assertThatThrownBy(() -> Summary.of(List.of(RANKED), List.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("1 rankings but 0 sets of grades: one of each per query");
        assertThatThrownBy(() -> Summary.of(List.of(), List.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("no queries to summarise");
    }
}
