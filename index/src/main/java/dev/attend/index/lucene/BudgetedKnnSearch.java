package dev.attend.index.lucene;

import static dev.attend.index.lucene.LuceneVectorIndex.ID_FIELD;
import static dev.attend.index.lucene.LuceneVectorIndex.VECTOR_FIELD;

import dev.attend.index.SearchResult;
import dev.attend.index.SearchStats;
import dev.attend.index.Similarity;

import dev.attend.index.lucene.LuceneVectorIndex.Options;
import dev.attend.index.lucene.LuceneVectorIndex.Quantization;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.AcceptDocs;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnCollector;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.TopKnnCollector;

/**
 * One search of a {@link LuceneVectorIndex} under a budget of vectors scored, segment by segment.
 *
 * <p><b>Budget.</b> Lucene's HNSW search keeps a candidate list as long as the number of hits it is
 * asked for, so the budget first picks that length, {@code ef = clamp(budget / 4, k, size())} (the
 * same rule as the other graph indexes: a search converges after scoring about four vectors per slot
 * of its list, so a narrower list stops before it has spent the budget), asks each
 * segment for its best {@code ef} and keeps the best {@code k}. The budget is then a hard cap: every
 * segment is searched with a {@link TopKnnCollector} whose visit limit is its share of what is left of
 * the budget (in proportion to its size, the largest segment first, and what a segment leaves unspent
 * goes to the next), through {@link LeafReader#searchNearestVectors(String, float[],
 * KnnCollector, AcceptDocs)}. Lucene checks the visit limit only before it
 * scores a block (up to 64 vectors in the exhaustive scan of a small segment, one node's neighbours in
 * the graph), so each segment's limit is its share less {@code max(63, 2 m - 1)}: budgets below about 64
 * buy nothing, and larger ones are never exceeded. {@link SearchStats#distanceComputations()} is the
 * sum of the collectors' {@code visitedCount()} (Lucene counts one visit per vector scored, in the graph
 * or, for a segment too small for a graph, in its exhaustive scan), plus, with quantization, the float32
 * re-scores; {@code nodesVisited} is -1 because Lucene does not say how many nodes it expanded. With
 * quantization {@code ef = clamp(budget / 8, k, size())}, the visit limit is {@code budget - ef} and the
 * {@code ef} candidates are re-scored exactly.
 */
final class BudgetedKnnSearch {

    private final Similarity similarity;
    private final Options options;

    BudgetedKnnSearch(Similarity similarity, Options options) {
        this.similarity = similarity;
        this.options = options;
    }

    /** One hit of one segment: its doc, Lucene's score, and after mapping its id and similarity. */
    private static final class Hit {
        final LeafReaderContext leaf;
        final int doc;
        final float luceneScore;
        long id;
        float score;

        Hit(LeafReaderContext leaf, int doc, float luceneScore) {
            this.leaf = leaf;
            this.doc = doc;
            this.luceneScore = luceneScore;
        }
    }

    /**
     * The best {@code k} for {@code query} among the live documents {@code searcher} sees; {@code q} is the query
     * as the vectors are stored (unit for cosine), {@code start} when the search began (for its time).
     */
    SearchResult search(IndexSearcher searcher, float[] query, float[] q, int k, int budget, long start) throws IOException {
        List<LeafReaderContext> leaves = new ArrayList<>();
        long remainingDocs = 0;
        for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
            if (leaf.reader().numDocs() > 0) {
                leaves.add(leaf);
                remainingDocs += leaf.reader().maxDoc();
            }
        }
        int live = searcher.getIndexReader().numDocs();
        if (live == 0) {
            return new SearchResult(new long[0], new float[0], new SearchStats(0, -1, micros(start), "lucene-hnsw"));
        }
        leaves.sort(Comparator.comparingInt((LeafReaderContext l) -> l.reader().maxDoc()).reversed());
        boolean quantized = options.quantization() != Quantization.NONE;
        // With quantization every candidate in the list also costs a float32 re-score: half as long a list.
        int ef = (int) Math.max(k, Math.min(live, budget / (quantized ? 8L : 4L)));
        long visitBudget = !quantized ? budget : budget > ef ? budget - ef : Math.max(1, budget / 2);
        long visited = 0;
        int overshoot = overshoot();
        List<Hit> hits = new ArrayList<>();
        for (int i = 0; i < leaves.size(); i++) {
            LeafReaderContext leaf = leaves.get(i);
            LeafReader reader = leaf.reader();
            long left = visitBudget - visited;
            long share = i == leaves.size() - 1 ? left : Math.max(1, left * reader.maxDoc() / remainingDocs);
            remainingDocs -= reader.maxDoc();
            long limit = Math.min(share, left - overshoot);
            if (limit < 1) {
                break;
            }
            TopKnnCollector collector = new TopKnnCollector(Math.min(ef, reader.numDocs()), (int) Math.min(limit, Integer.MAX_VALUE));
            reader.searchNearestVectors(VECTOR_FIELD, q, collector, AcceptDocs.fromLiveDocs(reader.getLiveDocs(), reader.maxDoc()));
            visited += collector.visitedCount();
            TopDocs top = collector.topDocs();
            for (ScoreDoc sd : top.scoreDocs) {
                hits.add(new Hit(leaf, sd.doc, sd.score));
            }
        }
        hits.sort(Comparator.comparingDouble((Hit h) -> -h.luceneScore));
        long rescored = 0;
        if (quantized) {
            long allowed = Math.max(0, (long) budget - visited);
            if (hits.size() > allowed) {
                hits = new ArrayList<>(hits.subList(0, (int) allowed));
            }
            rescore(hits, query);
            rescored = hits.size();
            hits.sort(Comparator.comparingDouble((Hit h) -> -h.score));
        } else {
            for (Hit h : hits) {
                h.score = fromLuceneScore(h.luceneScore, query);
            }
        }
        int n = Math.min(k, hits.size());
        List<Hit> best = hits.subList(0, n);
        mapIds(best);
        long[] outIds = new long[n];
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) {
            outIds[i] = best.get(i).id;
            scores[i] = best.get(i).score;
        }
        String method = quantized ? "lucene-hnsw-" + options.quantization().name().toLowerCase(Locale.ROOT) : "lucene-hnsw";
        return new SearchResult(outIds, scores, new SearchStats(visited + rescored, -1, micros(start), method));
    }

    /**
     * How far past its visit limit one Lucene segment search can go: Lucene checks the limit before it
     * scores a block of up to 64 vectors (exhaustive scans of small segments) or one node's neighbour
     * list (up to {@code 2 m}, graph search), and counts the block after. Each segment's limit is held
     * back by this much, so that the budget is a hard cap.
     */
    private int overshoot() {
        return Math.max(63, 2 * options.m() - 1);
    }

    private static long micros(long start) {
        return (System.nanoTime() - start) / 1000;
    }

    /** The similarity from Lucene's transformed score (see {@link VectorSimilarityFunction}). */
    private float fromLuceneScore(float s, float[] query) {
        return switch (similarity) {
            // MAXIMUM_INNER_PRODUCT: dot < 0 -> 1 / (1 - dot); dot >= 0 -> dot + 1.
            case DOT_PRODUCT -> s < 1 ? 1 - 1 / s : s - 1;
            // DOT_PRODUCT of unit vectors: max((1 + cos) / 2, 0). A zero query scores 0 against everything.
            case COSINE -> isZero(query) ? 0f : 2 * s - 1;
            // EUCLIDEAN: 1 / (1 + d^2).
            case EUCLIDEAN -> 1 - 1 / s;
        };
    }

    private static boolean isZero(float[] v) {
        for (float x : v) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /** Exact similarities from the stored float32 vectors, leaf by leaf in doc order. */
    private void rescore(List<Hit> hits, float[] query) throws IOException {
        List<Hit> sorted = new ArrayList<>(hits);
        sorted.sort(Comparator.comparingInt((Hit h) -> h.leaf.ord).thenComparingInt(h -> h.doc));
        LeafReaderContext current = null;
        FloatVectorValues values = null;
        KnnVectorValues.DocIndexIterator it = null;
        for (Hit h : sorted) {
            if (h.leaf != current) {
                current = h.leaf;
                values = current.reader().getFloatVectorValues(VECTOR_FIELD);
                it = values.iterator();
            }
            int doc = it.docID() >= h.doc ? it.docID() : it.advance(h.doc);
            if (doc != h.doc) {
                throw new IllegalStateException("doc " + h.doc + " has no vector");
            }
            h.score = similarity.score(query, values.vectorValue(it.index()));
        }
    }

    /** Fills in the ids of {@code hits} from the id doc values, leaf by leaf in doc order. */
    private static void mapIds(List<Hit> hits) throws IOException {
        List<Hit> sorted = new ArrayList<>(hits);
        sorted.sort(Comparator.comparingInt((Hit h) -> h.leaf.ord).thenComparingInt(h -> h.doc));
        LeafReaderContext current = null;
        NumericDocValues values = null;
        for (Hit h : sorted) {
            if (h.leaf != current) {
                current = h.leaf;
                values = DocValues.getNumeric(current.reader(), ID_FIELD);
            }
            if (!values.advanceExact(h.doc)) {
                throw new IllegalStateException("doc " + h.doc + " has no id");
            }
            h.id = values.longValue();
        }
    }
}
