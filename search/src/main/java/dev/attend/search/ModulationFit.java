package dev.attend.search;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Fits a LexSemBridge modulation to a corpus without labels: a keyword query and a part-of-passage query generated
 * from each passage ({@link FineGrainedQueries}), paired with the passage. W starts from the corpus's token
 * statistics at the scale that serves these queries best ({@link TokenCentroids}), then W and b are trained
 * ({@link ModulationTrainer}) with the encoder frozen, each query also against the passages plain dense search
 * confuses it with (hard negatives); the result is saved beside the index and used by the modulated modes.
 */
public final class ModulationFit {

    /** Hard negatives per training query: the top passages of plain dense search that are not the answer. */
    static final int HARD_NEGATIVES = 4;

    /** Told what is happening (indexing, query and passage embedding, training). */
    public interface Progress {
        void stage(String what, long done, long total);
    }

    /** What a fit did: the pairs it trained on, the scale of W's start ({@link TokenCentroids}) and the mean loss of each epoch. */
    public record Result(int pairs, float startScale, double[] epochLosses) {
    }

    private ModulationFit() {
    }

    /**
     * Trains a new modulation on queries generated from {@code passages} (documents of {@code search}'s index) over
     * the index's current vocabulary, and makes {@code search} use it. {@code learnedWeights}: the tokens' weights
     * are learned too (LLR, {@link LexSemModulation#withLearnedWeights}), on top of presence or IDF.
     */
    public static Result fit(DocumentSearch search, List<Document> passages, boolean idfWeights, boolean learnedWeights,
                             DocumentSearch.Tokens tokens, ModulationTrainer.Options training, long seed, Progress progress) throws IOException {
        Vocabulary vocabulary = search.currentVocabulary(tokens);
        // the queries are generated from the index's terms whatever the modulation's tokens
        Vocabulary terms = tokens == DocumentSearch.Tokens.TERMS ? vocabulary : search.currentVocabulary(DocumentSearch.Tokens.TERMS);
        FineGrainedQueries.Analyzer analyzer = analyzer(search);
        SplittableRandom rnd = new SplittableRandom(seed);
        List<FineGrainedQueries.Generated> queries = new ArrayList<>();
        Map<String, Document> byId = new LinkedHashMap<>();
        for (Document d : passages) {
            byId.put(d.id(), d);
            addIfAny(queries, FineGrainedQueries.keyword(d, analyzer, terms));
            addIfAny(queries, FineGrainedQueries.span(d, rnd));
        }
        if (queries.size() < 2) {
            throw new IllegalArgumentException("too few passages to generate training queries from (" + queries.size() + " queries)");
        }
        TextEmbedder embedder = search.embedder();
        List<float[]> queryVectors = embed(embedder, queries.stream().map(FineGrainedQueries.Generated::text).toList(), "embedding queries",
                progress);
        // the passages' vectors as indexed (encoding them again would cost as much as indexing did)
        Map<String, float[]> indexed = search.index().vectors(byId.keySet());
        List<float[]> passageVectors = new ArrayList<>(queries.size());
        for (FineGrainedQueries.Generated g : queries) {
            float[] v = indexed.get(g.passageId());
            if (v == null) {
                throw new IllegalArgumentException("passage '" + g.passageId() + "' is not in the index");
            }
            passageVectors.add(v);
        }
        // hard negatives: the passages plain dense search ranks highest for the query that are not its answer
        List<List<String>> hardIds = new ArrayList<>(queries.size());
        Set<String> hardAll = new HashSet<>();
        for (int i = 0; i < queries.size(); i++) {
            List<String> ids = new ArrayList<>(HARD_NEGATIVES);
            for (var hit : search.index().knn(queryVectors.get(i), HARD_NEGATIVES + 1)) {
                if (!hit.id().equals(queries.get(i).passageId()) && ids.size() < HARD_NEGATIVES) {
                    ids.add(hit.id());
                }
            }
            hardIds.add(ids);
            hardAll.addAll(ids);
            progress.stage("finding hard negatives", i + 1, queries.size());
        }
        Map<String, float[]> hardVectors = search.index().vectors(hardAll);
        List<ModulationTrainer.Pair> pairs = new ArrayList<>(queries.size());
        for (int i = 0; i < queries.size(); i++) {
            Vocabulary.TokenVector t = vocabulary.tokens(search.tokenize(queries.get(i).text(), tokens), idfWeights);
            float[][] negatives = hardIds.get(i).stream().map(hardVectors::get).filter(Objects::nonNull).toArray(float[][]::new);
            pairs.add(new ModulationTrainer.Pair(t.ids(), t.weights(), queryVectors.get(i), passageVectors.get(i), negatives));
        }
        LexSemModulation modulation = learnedWeights ? LexSemModulation.withLearnedWeights(vocabulary.size(), embedder.dim())
                : new LexSemModulation(vocabulary.size(), embedder.dim());
        float startScale = TokenCentroids.of(search, vocabulary, tokens, progress).chooseScale(modulation, search, pairs,
                queries.stream().map(FineGrainedQueries.Generated::passageId).toList(), progress);
        double[] losses = ModulationTrainer.train(modulation, pairs, training,
                (epoch, done, total, loss) -> progress.stage("training", done, total));
        search.setModulation(vocabulary, modulation, idfWeights, tokens);
        return new Result(pairs.size(), startScale, losses);
    }

    /** Words to the terms the index's BM25 field holds (null for a stop word). */
    public static FineGrainedQueries.Analyzer analyzer(DocumentSearch search) {
        return word -> {
            try {
                List<String> terms = search.index().analyze(word);
                return terms.isEmpty() ? null : terms.getFirst();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
    }

    /** Adds {@code g} unless it is null (a passage that gave no query). */
    public static void addIfAny(List<FineGrainedQueries.Generated> to, FineGrainedQueries.Generated g) {
        if (g != null) {
            to.add(g);
        }
    }

    /** Embeds in batches of 64, telling {@code progress} after each. */
    public static List<float[]> embed(TextEmbedder embedder, List<String> texts, String what, Progress progress) {
        List<float[]> out = new ArrayList<>(texts.size());
        for (int from = 0; from < texts.size(); from += 64) {
            out.addAll(embedder.embedAll(texts.subList(from, Math.min(texts.size(), from + 64))));
            progress.stage(what, out.size(), texts.size());
        }
        return out;
    }
}
