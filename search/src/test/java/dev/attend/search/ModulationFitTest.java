package dev.attend.search;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.gpu.SharedData;
import dev.attend.search.eval.IrMetrics;
import dev.attend.search.eval.TestCollection;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fitting the modulation on real text (the first 500 CISI documents, the shared data): the loss falls, and on
 * keyword queries of passages the fit never saw, the modulated dense search finds more passages in its top 10
 * than plain dense search.
 */
class ModulationFitTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("ModulationFitTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    Path dir;

    @Test
    void aFitLowersTheLossAndFindsMoreHeldOutPassagesByKeywords() throws Exception {
        Optional<Path> cisi = SharedData.resolve("ir/cisi");
        if (cisi.isEmpty()) {
            System.out.println("skipped: ../shared/data/ir/cisi not found");
        }
        Assumptions.assumeTrue(cisi.isPresent(), "../shared/data/ir/cisi not found");
        List<Document> documents = new ArrayList<>(TestCollection.read(cisi.get()).documents().subList(0, 500));
        try (DocumentSearch search = DocumentSearch.open(dir, MiniLmEmbedder.shared())) {
            search.add(documents, (done, total) -> { });
            SplittableRandom rnd = new SplittableRandom(SEED + 11);
            for (int i = documents.size() - 1; i > 0; i--) {
                Collections.swap(documents, i, rnd.nextInt(i + 1));
            }
            List<Document> training = documents.subList(0, 400);
            ModulationFit.Result fit = ModulationFit.fit(search, training, false, false, DocumentSearch.Tokens.TERMS,
                    ModulationTrainer.Options.defaults(), 11, (what, done, total) -> { });
            assertThat(fit.epochLosses()[fit.epochLosses().length - 1]).isLessThan(fit.epochLosses()[0]);

            Vocabulary terms = search.currentVocabulary(DocumentSearch.Tokens.TERMS);
            List<String> queries = new ArrayList<>();
            List<Map<String, Integer>> answers = new ArrayList<>();
            for (Document d : documents.subList(400, documents.size())) {
                FineGrainedQueries.Generated g = FineGrainedQueries.keyword(d, ModulationFit.analyzer(search), terms);
                if (g != null) {
                    queries.add(g.text());
                    answers.add(Map.of(g.passageId(), 1));
                }
            }
            assertThat(queries).hasSizeGreaterThan(80);
            double dense = recallAt10(search, queries, answers, DocumentSearch.Mode.DENSE);
            double modulated = recallAt10(search, queries, answers, DocumentSearch.Mode.LEXSEM);
            System.out.printf("held-out keyword queries: %d, R@10 dense %.3f, modulated %.3f (start scale %s)%n", queries.size(), dense,
                    modulated, fit.startScale());
            assertThat(modulated).isGreaterThan(dense);
        }
    }

    private static double recallAt10(DocumentSearch search, List<String> queries, List<Map<String, Integer>> answers,
                                     DocumentSearch.Mode mode) throws Exception {
        List<List<String>> rankings = new ArrayList<>();
        for (String q : queries) {
            rankings.add(search.search(q, mode, 10).stream().map(DocumentSearch.Hit::id).toList());
        }
        return IrMetrics.Summary.of(rankings, answers).recall10();
    }
}
