package dev.attend.retrieval.search;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Every search mode on one collection, three ways: the collection's own queries and judgments, and the two
 * fine-grained tasks ({@link FineGrainedQueries}: keyword and part-of-passage queries) built from passages held out
 * of the modulation's training. The documents are indexed once (embedding them is the slow part); a LexSemBridge
 * modulation is trained on pairs generated from the other passages, then every mode answers every query.
 */
public final class SearchEvaluation {

    /**
     * @param trainShare share of the passages whose generated queries train the modulation (the rest are held out)
     * @param idfWeights token vectors weighted by IDF (else presence)
     * @param seed       the split, the spans and the training order
     * @param training   the modulation's training
     */
    public record Options(double trainShare, boolean idfWeights, long seed, ModulationTrainer.Options training) {

        public Options {
            if (!(trainShare > 0 && trainShare < 1)) {
                throw new IllegalArgumentException("the training share must be in (0, 1), got " + trainShare);
            }
        }

        public static Options defaults() {
            return new Options(0.8, true, 1, ModulationTrainer.Options.defaults());
        }
    }

    /** One task's queries, each with its relevant document ids. */
    public record Task(String name, List<String> queries, List<Set<String>> relevant) {
    }

    /** A mode's measures on a task. */
    public record Row(String task, DocumentSearch.Mode mode, IrMetrics.Summary summary) {
    }

    public record Report(String collection, int documents, int trainingPairs, double[] epochLosses, List<Task> tasks, List<Row> rows) {
    }

    /** Told what is happening (indexing, query generation, training epochs). */
    public interface Progress {
        void stage(String what, long done, long total);
    }

    private SearchEvaluation() {
    }

    /** Indexes {@code collection} under {@code workDir} (reusing an index already there), trains, and measures. */
    public static Report run(SmartCollection collection, Path workDir, TextEmbedder embedder, Options options, Progress progress)
            throws IOException {
        try (DocumentSearch search = DocumentSearch.open(workDir, embedder)) {
            List<Document> documents = collection.documents();
            if (search.index().size() != documents.size()) {
                search.add(documents, (done, total) -> progress.stage("indexing", done, total));
            }
            Vocabulary vocabulary = search.currentVocabulary();
            FineGrainedQueries.Analyzer analyzer = word -> {
                try {
                    List<String> terms = search.index().analyze(word);
                    return terms.isEmpty() ? null : terms.getFirst();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            };

            // the passages split once: training passages give the pairs, held-out ones the fine-grained tasks
            List<Document> shuffled = new ArrayList<>(documents);
            SplittableRandom rnd = new SplittableRandom(options.seed());
            for (int i = shuffled.size() - 1; i > 0; i--) {
                java.util.Collections.swap(shuffled, i, rnd.nextInt(i + 1));
            }
            int cut = (int) Math.round(shuffled.size() * options.trainShare());
            List<FineGrainedQueries.Generated> train = new ArrayList<>();
            List<FineGrainedQueries.Generated> keywordTask = new ArrayList<>();
            List<FineGrainedQueries.Generated> spanTask = new ArrayList<>();
            for (int i = 0; i < shuffled.size(); i++) {
                Document d = shuffled.get(i);
                FineGrainedQueries.Generated keyword = FineGrainedQueries.keyword(d, analyzer, vocabulary);
                FineGrainedQueries.Generated span = FineGrainedQueries.span(d, rnd);
                if (i < cut) {
                    addIfAny(train, keyword);
                    addIfAny(train, span);
                } else {
                    addIfAny(keywordTask, keyword);
                    addIfAny(spanTask, span);
                }
            }

            // training pairs: the query's tokens and vector, its passage's vector
            Map<String, Document> byId = new LinkedHashMap<>();
            documents.forEach(d -> byId.put(d.id(), d));
            List<float[]> queryVectors = embed(embedder, train.stream().map(FineGrainedQueries.Generated::text).toList(), "embedding queries",
                    progress);
            List<float[]> passageVectors = embed(embedder, train.stream().map(g -> byId.get(g.passageId()).content()).toList(),
                    "embedding passages", progress);
            List<ModulationTrainer.Pair> pairs = new ArrayList<>(train.size());
            for (int i = 0; i < train.size(); i++) {
                Vocabulary.TokenVector t = vocabulary.tokens(search.index().analyze(train.get(i).text()), options.idfWeights());
                pairs.add(new ModulationTrainer.Pair(t.ids(), t.weights(), queryVectors.get(i), passageVectors.get(i)));
            }
            LexSemModulation modulation = new LexSemModulation(vocabulary.size(), embedder.dim());
            double[] losses = ModulationTrainer.train(modulation, pairs, options.training(),
                    (epoch, done, total, loss) -> progress.stage("training epoch " + (epoch + 1), done, total));
            search.setModulation(vocabulary, modulation, options.idfWeights());

            List<Task> tasks = new ArrayList<>();
            List<String> standard = new ArrayList<>();
            List<Set<String>> judged = new ArrayList<>();
            for (SmartCollection.Query q : collection.judgedQueries()) {
                standard.add(q.text());
                judged.add(collection.relevant().get(q.id()));
            }
            tasks.add(new Task("queries", standard, judged));
            tasks.add(task("keyword", keywordTask));
            tasks.add(task("part-of-passage", spanTask));

            List<Row> rows = new ArrayList<>();
            for (Task task : tasks) {
                List<float[]> vectors = embed(embedder, task.queries(), "embedding " + task.name() + " queries", progress);
                for (DocumentSearch.Mode mode : DocumentSearch.Mode.values()) {
                    List<List<String>> rankings = new ArrayList<>(task.queries().size());
                    for (int i = 0; i < task.queries().size(); i++) {
                        rankings.add(search.search(task.queries().get(i), vectors.get(i), mode, 100).stream().map(DocumentSearch.Hit::id).toList());
                    }
                    rows.add(new Row(task.name(), mode, IrMetrics.Summary.of(rankings, task.relevant())));
                }
            }
            return new Report(collection.name(), documents.size(), pairs.size(), losses, tasks, rows);
        }
    }

    private static void addIfAny(List<FineGrainedQueries.Generated> to, FineGrainedQueries.Generated g) {
        if (g != null) {
            to.add(g);
        }
    }

    private static Task task(String name, List<FineGrainedQueries.Generated> generated) {
        return new Task(name, generated.stream().map(FineGrainedQueries.Generated::text).toList(),
                generated.stream().map(g -> Set.of(g.passageId())).toList());
    }

    private static List<float[]> embed(TextEmbedder embedder, List<String> texts, String what, Progress progress) {
        List<float[]> out = new ArrayList<>(texts.size());
        for (int from = 0; from < texts.size(); from += 64) {
            out.addAll(embedder.embedAll(texts.subList(from, Math.min(texts.size(), from + 64))));
            progress.stage(what, out.size(), texts.size());
        }
        return out;
    }
}
