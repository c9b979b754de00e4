package dev.attend.recsys.model;

import dev.attend.gpu.Precision;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.VectorMath;
import dev.attend.gpu.VectorStore;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A long-sequence click model ({@link ModelConfig}): DARE, TWIN-like or DIN-like over item and category
 * embeddings, with its forward pass and hand-derived backward pass.
 *
 * <p>For a target (item t, category c) and a history of behaviours (items i_j, categories c_j):
 * <pre>
 *   q   = [A_item(t); A_cat(c)]              k_j = [A_item(i_j); A_cat(c_j)]         (attention embeddings)
 *   s_j = q . k_j / sqrt(dim q)              S   = the top K of s (all of them for DIN)
 *   w   = softmax(s_S)                       h   = sum_{j in S} w_j [R_item(i_j); R_cat(c_j)]
 *   e   = [R_item(t); R_cat(c)]              logit = MLP([e, h, e * h])
 * </pre>
 * With position-gap buckets ({@link ModelConfig#positionBuckets}) {@code k_j} adds {@code A_pos(b_j)} and the
 * aggregated rows add {@code R_pos(b_j)}, where b_j is the bucket of behaviour j's distance from the history's end.
 * DARE's A and R tables are separate; the other kinds use one table for both. The top-K selection is a step
 * function of the parameters: gradients flow through the scores of the selected behaviours, not into the choice.
 * Embeddings start normal with standard deviation 0.05 (row 0, the padding/unknown id, at zero).
 */
public final class SequenceModel {

    static final double EMBEDDING_STD = 0.05;

    final ModelConfig config;
    final EmbeddingTable attItem;
    final EmbeddingTable attCat;
    final EmbeddingTable repItem;
    final EmbeddingTable repCat;
    /** Position-gap rows (row 1 + bucket; row 0 unused, as in every table), or null without positions. */
    final EmbeddingTable attPos;
    final EmbeddingTable repPos;
    final Mlp mlp;
    /** Draws the rows of ids that arrive online. */
    private final SplittableRandom growth;
    private final CandidateScoring scoring = new CandidateScoring(this);

    /** A new model for dense item ids {@code [0, items]} and category ids {@code [0, categories]}. */
    public SequenceModel(ModelConfig config, int items, int categories, long seed) {
        this.config = config;
        SplittableRandom rnd = new SplittableRandom(seed);
        this.growth = new SplittableRandom(seed ^ 0x5DEECE66DL);
        repItem = new EmbeddingTable("representation item", items + 1, config.representationDim(), EMBEDDING_STD, rnd);
        repCat = new EmbeddingTable("representation category", categories + 1, config.representationDim(), EMBEDDING_STD, rnd);
        if (config.sharedTables()) {
            attItem = repItem;
            attCat = repCat;
        } else {
            attItem = new EmbeddingTable("attention item", items + 1, config.attentionDim(), EMBEDDING_STD, rnd);
            attCat = new EmbeddingTable("attention category", categories + 1, config.attentionDim(), EMBEDDING_STD, rnd);
        }
        mlp = new Mlp(6 * config.representationDim(), config.hidden(), rnd);
        // Drawn after everything else, so that a model without positions starts exactly as before they existed.
        if (config.positionBuckets() == 0) {
            attPos = null;
            repPos = null;
        } else {
            repPos = new EmbeddingTable("representation position", config.positionBuckets() + 1, 2 * config.representationDim(),
                    EMBEDDING_STD, rnd);
            attPos = config.sharedTables() ? repPos
                    : new EmbeddingTable("attention position", config.positionBuckets() + 1, 2 * config.attentionDim(), EMBEDDING_STD, rnd);
        }
    }

    /** The position table row of the behaviour at {@code j} in a history ending (exclusive) at {@code to}. */
    int positionRow(int j, int to) {
        return 1 + config.positionBucket(to - 1 - j);
    }

    public ModelConfig config() {
        return config;
    }

    /** Dense item ids run from 1 to {@code items()}. */
    public int items() {
        return repItem.rows - 1;
    }

    /** Dense category ids run from 1 to {@code categories()}. */
    public int categories() {
        return repCat.rows - 1;
    }

    /**
     * Rows for dense ids up to {@code items} and {@code categories} (new rows drawn as at construction): what an
     * {@link dev.attend.recsys.data.ItemCatalog#learn} of a new item calls before the id is published.
     */
    public synchronized void ensureRows(int items, int categories) {
        repItem.grow(items + 1, growth);
        repCat.grow(categories + 1, growth);
        if (attItem != repItem) {
            attItem.grow(items + 1, growth);
            attCat.grow(categories + 1, growth);
        }
    }

    /** The distinct embedding tables (two when attention and representation share them, else four; and the position ones). */
    List<EmbeddingTable> tables() {
        List<EmbeddingTable> t = new ArrayList<>(config.sharedTables() ? List.of(repItem, repCat)
                : List.of(repItem, repCat, attItem, attCat));
        if (repPos != null) {
            t.add(repPos);
            if (attPos != repPos) {
                t.add(attPos);
            }
        }
        return t;
    }

    /**
     * Every parameter array in a fixed order (tables, then the MLP's weights, biases and slopes): what is saved. A
     * table that grew online gives a copy of its rows in use; a model as constructed gives its own arrays.
     */
    List<float[]> parameters() {
        List<float[]> out = new ArrayList<>();
        for (EmbeddingTable t : tables()) {
            out.add(t.used());
        }
        out.addAll(ModelFiles.flatten(mlp.weights, mlp.biases, mlp.slopes));
        return out;
    }

    /** The click probability of one target after the behaviours {@code [from, to)}. */
    public float probability(int[] items, int[] categories, int from, int to, int targetItem, int targetCategory) {
        return sigmoid(forward(items, categories, from, to, targetItem, targetCategory).logit);
    }

    /** What a forward pass keeps for its backward pass, and what explains a score. */
    public static final class Forward {
        int targetItem;
        int targetCategory;
        int[] historyItems;
        int[] historyCategories;
        int historyTo;
        /** Positions (into the history arrays) of the behaviours kept, best score first, and their softmax weights. */
        public int[] selected;
        public float[] weights;
        float[] q;
        float[] e;
        float[] h;
        float[][] pre;
        float[][] post;
        public float logit;
    }

    /** The logit for one target after the behaviours {@code items[from, to)} / {@code categories[from, to)}. */
    public Forward forward(int[] items, int[] categories, int from, int to, int targetItem, int targetCategory) {
        Forward f = new Forward();
        f.targetItem = targetItem;
        f.targetCategory = targetCategory;
        f.historyItems = items;
        f.historyCategories = categories;
        f.historyTo = to;
        int da = attItem.dim;
        int dr = repItem.dim;
        f.q = concat(attItem, targetItem, attCat, targetCategory);
        float scale = (float) (1 / Math.sqrt(2.0 * da));
        int n = to - from;
        float[] scores = new float[n];
        for (int j = 0; j < n; j++) {
            float s = dot(f.q, 0, attItem, items[from + j]) + dot(f.q, da, attCat, categories[from + j]);
            if (attPos != null) {
                s += dot(f.q, 0, attPos, positionRow(from + j, to));
            }
            scores[j] = scale * s;
        }
        int k = config.searches() ? Math.min(config.topK(), n) : n;
        f.selected = topK(scores, k);
        for (int s = 0; s < k; s++) {
            f.selected[s] += from;
        }
        f.weights = new float[k];
        float max = Float.NEGATIVE_INFINITY;
        for (int s = 0; s < k; s++) {
            max = Math.max(max, scores[f.selected[s] - from]);
        }
        double sum = 0;
        for (int s = 0; s < k; s++) {
            f.weights[s] = (float) Math.exp(scores[f.selected[s] - from] - max);
            sum += f.weights[s];
        }
        f.h = new float[2 * dr];
        for (int s = 0; s < k; s++) {
            f.weights[s] /= (float) sum;
            int j = f.selected[s];
            axpy(f.weights[s], repItem, items[j], f.h, 0);
            axpy(f.weights[s], repCat, categories[j], f.h, dr);
            if (repPos != null) {
                axpy(f.weights[s], repPos, positionRow(j, to), f.h, 0);
            }
        }
        f.e = concat(repItem, targetItem, repCat, targetCategory);
        float[] x = new float[6 * dr];
        System.arraycopy(f.e, 0, x, 0, 2 * dr);
        System.arraycopy(f.h, 0, x, 2 * dr, 2 * dr);
        for (int c = 0; c < 2 * dr; c++) {
            x[4 * dr + c] = f.e[c] * f.h[c];
        }
        f.pre = new float[mlp.layers()][];
        f.post = new float[mlp.layers() + 1][];
        f.logit = mlp.forward(x, f.pre, f.post);
        return f;
    }

    /** The logits of many candidates after one history, and the behaviours each one's search kept. */
    public record Scores(float[] logits, int[][] selected, float[][] weights) {
    }

    /**
     * The attention keys of a history, one row {@code [A_item(i_j); A_cat(c_j)]} per behaviour: what the serving
     * search scans. A server keeps them per user while the user's history and the model stay unchanged.
     */
    public VectorStore attentionKeys(int[] items, int[] categories) {
        return keys(items, categories, true);
    }

    /**
     * The attention embeddings {@code [A_item(i); A_cat(c)]} of items as targets (no position): what an index of
     * candidate items holds.
     */
    public VectorStore targetKeys(int[] items, int[] categories) {
        return keys(items, categories, false);
    }

    private VectorStore keys(int[] items, int[] categories, boolean positions) {
        if (items.length != categories.length) {
            throw new IllegalArgumentException("items and categories differ in length: " + items.length + " vs " + categories.length);
        }
        int da = attItem.dim;
        int n = items.length;
        VectorStore keys = new VectorStore(2 * da, Precision.FLOAT32);
        float[] rows = new float[n * 2 * da];
        for (int j = 0; j < n; j++) {
            System.arraycopy(attItem.weights, attItem.offset(items[j]), rows, j * 2 * da, da);
            System.arraycopy(attCat.weights, attCat.offset(categories[j]), rows, j * 2 * da + da, da);
            if (positions && attPos != null) {
                VectorMath.axpy(1f, attPos.weights, attPos.offset(positionRow(j, n)), rows, j * 2 * da, 2 * da);
            }
        }
        keys.appendRows(rows, 0, n);
        return keys;
    }

    /** {@link #score(int[], int[], VectorStore, int[], int[], Scorer)} with the history's keys built for this call. */
    public Scores score(int[] items, int[] categories, int[] candidateItems, int[] candidateCategories, Scorer scorer) {
        return score(items, categories, attentionKeys(items, categories), candidateItems, candidateCategories, scorer);
    }

    /**
     * Scores {@code candidateItems} (with their categories) after the whole history {@code items}/{@code categories}
     * whose {@link #attentionKeys} are {@code keys}, the serving path: the search of every candidate is one top-K
     * call on {@code scorer} (tiled, multi-threaded on SIMD; on a GPU with OpenCL); then each candidate's softmax
     * and weighted sum, and the MLP for all candidates at once ({@link Mlp#inferBatch}). Equal to {@link #forward}
     * per candidate up to float rounding (both break ties in the search by the earlier behaviour; scores within
     * rounding of each other may still swap).
     */
    public Scores score(int[] items, int[] categories, VectorStore keys, int[] candidateItems, int[] candidateCategories, Scorer scorer) {
        return scoring.score(items, categories, keys, candidateItems, candidateCategories, scorer);
    }

    /** Bumped by every optimiser step (one writer: the training thread that applies the step). */
    private volatile long version;

    /** Changes whenever a training step or new rows change what the model computes (what caches of its outputs key on). */
    public long weightsVersion() {
        return version;
    }

    void weightsChanged() {
        version++;
    }

    /** Back-propagates {@code dLogit} (d loss / d logit) through {@code f} into {@code g}. */
    void backward(Forward f, float dLogit, Gradients g) {
        int da = attItem.dim;
        int dr = repItem.dim;
        float[] dx = mlp.backward(dLogit, f.pre, f.post, g);
        float[] de = new float[2 * dr];
        float[] dh = new float[2 * dr];
        for (int c = 0; c < 2 * dr; c++) {
            de[c] = dx[c] + dx[4 * dr + c] * f.h[c];
            dh[c] = dx[2 * dr + c] + dx[4 * dr + c] * f.e[c];
        }
        g.addRow(repItem, f.targetItem, de, 0, 1);
        g.addRow(repCat, f.targetCategory, de, dr, 1);
        int k = f.selected.length;
        if (k == 0) {
            return;
        }
        // h = sum w_j r_j: dr_j = w_j dh; the weights' gradient, through the softmax, to the scores.
        float[] dw = new float[k];
        double mean = 0;
        for (int s = 0; s < k; s++) {
            int j = f.selected[s];
            dw[s] = dot(dh, 0, repItem, f.historyItems[j]) + dot(dh, dr, repCat, f.historyCategories[j]);
            g.addRow(repItem, f.historyItems[j], dh, 0, f.weights[s]);
            g.addRow(repCat, f.historyCategories[j], dh, dr, f.weights[s]);
            if (repPos != null) {
                int p = positionRow(j, f.historyTo);
                dw[s] += dot(dh, 0, repPos, p);
                g.addRow(repPos, p, dh, 0, f.weights[s]);
            }
            mean += f.weights[s] * dw[s];
        }
        float scale = (float) (1 / Math.sqrt(2.0 * da));
        float[] dq = new float[2 * da];
        for (int s = 0; s < k; s++) {
            int j = f.selected[s];
            float ds = (float) (f.weights[s] * (dw[s] - mean)) * scale;
            axpy(ds, attItem, f.historyItems[j], dq, 0);
            axpy(ds, attCat, f.historyCategories[j], dq, da);
            g.addRow(attItem, f.historyItems[j], f.q, 0, ds);
            g.addRow(attCat, f.historyCategories[j], f.q, da, ds);
            if (attPos != null) {
                int p = positionRow(j, f.historyTo);
                axpy(ds, attPos, p, dq, 0);
                g.addRow(attPos, p, f.q, 0, ds);
            }
        }
        g.addRow(attItem, f.targetItem, dq, 0, 1);
        g.addRow(attCat, f.targetCategory, dq, da, 1);
    }

    /** Binary cross-entropy of {@code logit} against {@code label}, computed stably. */
    static double loss(float logit, float label) {
        return Math.max(logit, 0) - logit * label + Math.log1p(Math.exp(-Math.abs(logit)));
    }

    static float sigmoid(float logit) {
        return (float) (1 / (1 + Math.exp(-logit)));
    }

    static float[] concat(EmbeddingTable a, int ra, EmbeddingTable b, int rb) {
        float[] out = new float[a.dim + b.dim];
        System.arraycopy(a.weights, a.offset(ra), out, 0, a.dim);
        System.arraycopy(b.weights, b.offset(rb), out, a.dim, b.dim);
        return out;
    }

    /** {@code v[from, from + t.dim) . t}'s row {@code row}. */
    private static float dot(float[] v, int from, EmbeddingTable t, int row) {
        return VectorMath.dot(v, from, t.weights, t.offset(row), t.dim);
    }

    /** {@code out[from, from + t.dim) += a * t}'s row {@code row}. */
    private static void axpy(float a, EmbeddingTable t, int row, float[] out, int from) {
        VectorMath.axpy(a, t.weights, t.offset(row), out, from, t.dim);
    }

    /** Indices of the {@code k} largest scores, best first (ties: the earlier behaviour first, as the gpu Scorer's top-K). */
    static int[] topK(float[] scores, int k) {
        if (k == 0) {
            return new int[0];
        }
        TopKCollector best = new TopKCollector(k);
        for (int i = 0; i < scores.length; i++) {
            best.offer(scores[i], i);
        }
        return best.drain().ids();
    }
}