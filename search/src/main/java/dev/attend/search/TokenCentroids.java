package dev.attend.search;

import dev.attend.gpu.VectorMath;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where a fit of the modulation starts: {@code W} from corpus statistics instead of zero. For each token t,
 * {@code c_t} is the mean vector of the indexed documents that hold it and {@code mu} the mean of all documents;
 * row t becomes {@code W[t]_d = alpha * c_t,d (c_t,d - mu_d) / S} ({@code S}: the mean magnitude of those products
 * over every token and dimension). A query's vector {@code e_q} leans the way of the documents that hold its tokens,
 * so {@code e_q,d (x_d - mu_d)} for such a document x is about {@code c_t,d (c_t,d - mu_d)}: the modulation then
 * weights up the dimensions where those documents stand out from the rest. It needs no labels, covers every
 * token of the corpus (training pairs reach only the tokens of the passages they came from, which is why a
 * modulation trained from zero did not carry over to held-out passages), and {@code alpha} is chosen by
 * {@link #chooseScale} on the training queries, where 0 (plain dense retrieval) is one of the choices.
 */
final class TokenCentroids {

    /** The scales {@link #chooseScale} tries; 0 is plain dense retrieval. */
    static final float[] SCALES = {0f, 0.125f, 0.25f, 0.5f, 1f, 2f};
    private static final int BATCH = 1024;

    /** {@code c_t (c_t - mu) / S} per token, token-major ({@code vocabulary.size() * dim}); zero for tokens no document holds. */
    private final float[] rows;
    private final int dim;

    private TokenCentroids(float[] rows, int dim) {
        this.rows = rows;
        this.dim = dim;
    }

    /** The statistics of every document in {@code search}'s index, over {@code vocabulary} of {@code tokens}. */
    static TokenCentroids of(DocumentSearch search, Vocabulary vocabulary, DocumentSearch.Tokens tokens, ModulationFit.Progress progress)
            throws IOException {
        int dim = search.embedder().dim();
        List<String> ids = new ArrayList<>();
        List<String> contents = new ArrayList<>();
        search.index().forEach(d -> {
            ids.add(d.id());
            contents.add(new Document(d.id(), d.title(), d.text()).content());
        });
        if ((long) vocabulary.size() * dim > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("vocabulary " + vocabulary.size() + " x dim " + dim + " is too large");
        }
        float[] sums = new float[vocabulary.size() * dim];
        int[] counts = new int[vocabulary.size()];
        double[] mu = new double[dim];
        for (int from = 0; from < ids.size(); from += BATCH) {
            List<String> batch = ids.subList(from, Math.min(ids.size(), from + BATCH));
            Map<String, float[]> vectors = search.index().vectors(batch);
            for (int i = 0; i < batch.size(); i++) {
                float[] x = vectors.get(batch.get(i));
                for (int c = 0; c < dim; c++) {
                    mu[c] += x[c];
                }
                for (int t : vocabulary.tokens(search.tokenize(contents.get(from + i), tokens), false).ids()) {
                    counts[t]++;
                    VectorMath.axpy(1f, x, 0, sums, t * dim, dim);
                }
            }
            progress.stage("token statistics", from + batch.size(), ids.size());
        }
        for (int c = 0; c < dim; c++) {
            mu[c] /= Math.max(1, ids.size());
        }
        double magnitude = 0;
        long entries = 0;
        for (int t = 0; t < counts.length; t++) {
            if (counts[t] == 0) {
                continue;
            }
            for (int c = 0, at = t * dim; c < dim; c++, at++) {
                double centroid = sums[at] / counts[t];
                double product = centroid * (centroid - mu[c]);
                sums[at] = (float) product;
                magnitude += Math.abs(product);
                entries++;
            }
        }
        if (magnitude > 0) {
            float inverse = (float) (entries / magnitude);
            for (int i = 0; i < sums.length; i++) {
                sums[i] *= inverse;
            }
        }
        return new TokenCentroids(sums, dim);
    }

    /** Sets {@code m}'s {@code W} to {@code alpha} times the statistics (and leaves {@code b}). */
    void apply(LexSemModulation m, float alpha) {
        if (m.w.length != rows.length || m.dim() != dim) {
            throw new IllegalArgumentException("the modulation (" + m.vocabulary() + " x " + m.dim() + ") does not fit the statistics");
        }
        for (int i = 0; i < rows.length; i++) {
            m.w[i] = alpha * rows[i];
        }
    }

    /**
     * The scale among {@link #SCALES} under which the most training queries find their passage in the top 10 of
     * the index's vector search (ties to the smaller scale), leaving {@code m} at it.
     */
    float chooseScale(LexSemModulation m, DocumentSearch search, List<ModulationTrainer.Pair> pairs, List<String> answers,
                      ModulationFit.Progress progress) throws IOException {
        float best = 0;
        int bestFound = -1;
        for (int s = 0; s < SCALES.length; s++) {
            apply(m, SCALES[s]);
            int found = 0;
            for (int i = 0; i < pairs.size(); i++) {
                ModulationTrainer.Pair p = pairs.get(i);
                float[] q = m.modulate(p.tokens(), p.weights(), p.query());
                for (var hit : search.index().knn(q, 10)) {
                    if (hit.id().equals(answers.get(i))) {
                        found++;
                        break;
                    }
                }
            }
            if (found > bestFound) {
                bestFound = found;
                best = SCALES[s];
            }
            progress.stage("choosing the start", s + 1, SCALES.length);
        }
        apply(m, best);
        return best;
    }
}
