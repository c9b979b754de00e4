package dev.attend.search.eval;

import dev.attend.search.Document;
import dev.attend.search.DocumentSearch;
import dev.attend.search.FineGrainedQueries;
import dev.attend.search.ModulationFit;
import dev.attend.search.ModulationTrainer;
import dev.attend.search.TextEmbedder;
import dev.attend.search.Vocabulary;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Every search mode on one collection, three ways: the collection's own queries and judgments, and the two
 * fine-grained tasks ({@link FineGrainedQueries}: keyword and part-of-passage queries) built from passages held out
 * of the modulation's training; and, to tell fitting from generalising, keyword queries of (up to 300) training
 * passages, which the modulation trained on ("keyword-trained"). The documents are indexed once (embedding them is the slow part); a LexSemBridge
 * modulation is trained on pairs generated from the other passages, then every mode answers every query.
 */
public final class SearchEvaluation {

    /**
     * @param trainShare share of the passages whose generated queries train the modulation (the rest are held out)
     * @param idfWeights token vectors weighted by IDF (else presence)
     * @param learnedWeights the tokens' weights learned as well (LLR)
     * @param tokens     what the token vectors are made of
     * @param seed       the split, the spans and the training order
     * @param training   the modulation's training
     */
    public record Options(double trainShare, boolean idfWeights, boolean learnedWeights, DocumentSearch.Tokens tokens, long seed,
                          ModulationTrainer.Options training) {

        public Options {
            if (!(trainShare > 0 && trainShare < 1)) {
                throw new IllegalArgumentException("the training share must be in (0, 1), got " + trainShare);
            }
        }

        public static Options defaults() {
            return new Options(0.8, false, false, DocumentSearch.Tokens.TERMS, 1, ModulationTrainer.Options.defaults());
        }
    }

    /** One task's queries, each with its relevant documents' grades. */
    public record Task(String name, List<String> queries, List<Map<String, Integer>> grades) {
    }

    /** A mode's measures on a task. */
    public record Row(String task, DocumentSearch.Mode mode, IrMetrics.Summary summary) {
    }

    public record Report(String collection, int documents, int trainingPairs, float startScale, double[] epochLosses, List<Task> tasks,
                         List<Row> rows) {
    }

    private SearchEvaluation() {
    }

    /** Indexes {@code collection} under {@code workDir} (reusing an index already there), trains, and measures. */
    public static Report run(TestCollection collection, Path workDir, TextEmbedder embedder, Options options, ModulationFit.Progress progress)
            throws IOException {
        try (DocumentSearch search = DocumentSearch.open(workDir, embedder)) {
            List<Document> documents = collection.documents();
            if (search.index().size() != documents.size()) {
                search.add(documents, (done, total) -> progress.stage("indexing", done, total));
            }
            // the passages split once: training passages fit the modulation, held-out ones give the fine-grained tasks
            List<Document> shuffled = new ArrayList<>(documents);
            SplittableRandom rnd = new SplittableRandom(options.seed());
            for (int i = shuffled.size() - 1; i > 0; i--) {
                Collections.swap(shuffled, i, rnd.nextInt(i + 1));
            }
            int cut = (int) Math.round(shuffled.size() * options.trainShare());
            ModulationFit.Result fit = ModulationFit.fit(search, shuffled.subList(0, cut), options.idfWeights(), options.learnedWeights(), options.tokens(),
                    options.training(), options.seed(), progress);
            Vocabulary vocabulary = search.currentVocabulary(DocumentSearch.Tokens.TERMS); // the tasks' keywords are terms
            FineGrainedQueries.Analyzer analyzer = ModulationFit.analyzer(search);
            List<FineGrainedQueries.Generated> keywordTask = new ArrayList<>();
            List<FineGrainedQueries.Generated> spanTask = new ArrayList<>();
            for (Document d : shuffled.subList(cut, shuffled.size())) {
                ModulationFit.addIfAny(keywordTask, FineGrainedQueries.keyword(d, analyzer, vocabulary));
                ModulationFit.addIfAny(spanTask, FineGrainedQueries.span(d, rnd));
            }

            List<Task> tasks = new ArrayList<>();
            List<String> standard = new ArrayList<>();
            List<Map<String, Integer>> judged = new ArrayList<>();
            for (TestCollection.Query q : collection.judgedQueries()) {
                standard.add(q.text());
                judged.add(collection.grades().get(q.id()));
            }
            tasks.add(new Task("queries", standard, judged));
            tasks.add(task("keyword", keywordTask));
            tasks.add(task("part-of-passage", spanTask));
            // the keyword queries the modulation trained on (a sample of 300): how far it fits what it saw
            List<FineGrainedQueries.Generated> seen = new ArrayList<>();
            for (Document d : shuffled.subList(0, Math.min(cut, 300))) {
                ModulationFit.addIfAny(seen, FineGrainedQueries.keyword(d, analyzer, vocabulary));
            }
            tasks.add(task("keyword-trained", seen));

            List<Row> rows = new ArrayList<>();
            for (Task task : tasks) {
                List<float[]> vectors = ModulationFit.embed(embedder, task.queries(), "embedding " + task.name() + " queries", progress);
                for (DocumentSearch.Mode mode : DocumentSearch.Mode.values()) {
                    List<List<String>> rankings = new ArrayList<>(task.queries().size());
                    for (int i = 0; i < task.queries().size(); i++) {
                        rankings.add(search.search(task.queries().get(i), vectors.get(i), mode, 100).stream().map(DocumentSearch.Hit::id).toList());
                    }
                    rows.add(new Row(task.name(), mode, IrMetrics.Summary.of(rankings, task.grades())));
                }
            }
            return new Report(collection.name(), documents.size(), fit.pairs(), fit.startScale(), fit.epochLosses(), tasks, rows);
        }
    }

    private static Task task(String name, List<FineGrainedQueries.Generated> generated) {
        return new Task(name, generated.stream().map(FineGrainedQueries.Generated::text).toList(),
                generated.stream().map(g -> Map.of(g.passageId(), 1)).toList());
    }
}
