package dev.attend.recsys.model;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scratch;
import dev.attend.gpu.Simd;
import dev.attend.gpu.TopK;
import dev.attend.gpu.VectorMath;
import dev.attend.gpu.VectorStore;
import dev.attend.recsys.model.SequenceModel.Scores;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The serving path of a {@link SequenceModel} ({@link SequenceModel#score}): one top-K search of every candidate on a
 * {@link Scorer}, then each range of candidates' softmax, weighted sums and MLP as soon as its search is done.
 */
final class CandidateScoring {

    private static final Scratch MLP_INPUTS = new Scratch(1 << 20);

    /** Candidates per parallel chunk of {@link #score}'s second stage (a multiple of four: the MLP's blocks). */
    static final int SERVING_CHUNK = 128;

    /** The MLP's weights in serving form, and the weight version they were taken at. */
    private record ServingWeights(long version, float[][] transposed) {
    }

    private final SequenceModel model;
    private volatile ServingWeights serving;

    CandidateScoring(SequenceModel model) {
        this.model = model;
    }

    /** See {@link SequenceModel#score(int[], int[], VectorStore, int[], int[], Scorer)}. */
    Scores score(int[] items, int[] categories, VectorStore keys, int[] candidateItems, int[] candidateCategories, Scorer scorer) {
        int n = items.length;
        if (keys.size() != n || categories.length != n || keys.dim() != 2 * model.attItem.dim) {
            throw new IllegalArgumentException("the keys (" + keys.size() + " x " + keys.dim() + ") are not this history's ("
                    + n + " x " + 2 * model.attItem.dim + ")");
        }
        if (candidateItems.length != candidateCategories.length) {
            throw new IllegalArgumentException("candidate items and categories differ in length: " + candidateItems.length + " vs "
                    + candidateCategories.length);
        }
        int c = candidateItems.length;
        int da = model.attItem.dim;
        int dr = model.repItem.dim;
        int[][] selected = new int[c][];
        float[][] weights = new float[c][];
        float[][] queries = new float[c][];
        for (int i = 0; i < c; i++) {
            queries[i] = SequenceModel.concat(model.attItem, candidateItems[i], model.attCat, candidateCategories[i]);
        }
        int k = model.config.searches() ? Math.min(model.config.topK(), n) : n;
        float scale = (float) (1 / Math.sqrt(2.0 * da));
        float[] logits = new float[c];
        float[][] transposed = servingWeights();
        // Softmax, weighted sum and the MLP of each range of candidates as soon as its search is done (on the
        // scorer's threads; a range handed over whole is cut into chunks and run in parallel).
        Scorer.ReadyRange stageTwo = (from, to, found) -> {
            int chunks = (to - from + SERVING_CHUNK - 1) / SERVING_CHUNK;
            IntConsumer chunkAt = chunk -> {
                int first = from + chunk * SERVING_CHUNK;
                aggregate(items, categories, found, k, first, Math.min(SERVING_CHUNK, to - first), candidateItems, candidateCategories,
                        scale, transposed, logits, selected, weights);
            };
            if (chunks == 1) {
                chunkAt.accept(0);
            } else {
                IntStream.range(0, chunks).parallel().forEach(chunkAt);
            }
        };
        if (n == 0 || c == 0) {
            stageTwo.accept(0, c, Collections.nCopies(c, new TopK(new int[0], new float[0])));
        } else {
            scorer.topK(queries, keys, k, stageTwo);
        }
        return new Scores(logits, selected, weights);
    }

    /**
     * The second stage of {@link #score} for candidates {@code [first, first + count)}: each one's softmax over its
     * search scores (at most {@code k} each) and weighted sums of representation rows, then the MLP of all of them at once.
     */
    private void aggregate(int[] items, int[] categories, List<TopK> found, int k, int first, int count, int[] candidateItems,
                           int[] candidateCategories, float scale, float[][] transposed, float[] logits, int[][] selected,
                           float[][] weights) {
        int n = items.length;
        int dr = model.repItem.dim;
        int in = 6 * dr;
        float[] packed = MLP_INPUTS.floats((count + 3) / 4 * 4 * in); // the MLP inputs [e, h, e * h], packed by four
        Arrays.fill(packed, 0, (count + 3) / 4 * 4 * in, 0f); // the padding rows of a last partial block
        float[] h = new float[2 * dr];
        int[] rowsAt = new int[k];
        for (int x = 0; x < count; x++) {
            int i = first + x;
            Arrays.fill(h, 0);
            int[] ids = found.get(i).ids();
            float[] w = softmax(found.get(i).scores(), scale);
            for (int s = 0; s < ids.length; s++) {
                rowsAt[s] = model.repItem.offset(items[ids[s]]);
            }
            VectorMath.weightedSum(model.repItem.weights, rowsAt, w, ids.length, dr, h, 0);
            for (int s = 0; s < ids.length; s++) {
                rowsAt[s] = model.repCat.offset(categories[ids[s]]);
            }
            VectorMath.weightedSum(model.repCat.weights, rowsAt, w, ids.length, dr, h, dr);
            if (model.repPos != null) {
                for (int s = 0; s < ids.length; s++) {
                    rowsAt[s] = model.repPos.offset(model.positionRow(ids[s], n));
                }
                VectorMath.weightedSum(model.repPos.weights, rowsAt, w, ids.length, 2 * dr, h, 0);
            }
            int base = x / 4 * 4 * in + x % 4;
            int eItem = model.repItem.offset(candidateItems[i]);
            int eCat = model.repCat.offset(candidateCategories[i]);
            for (int d = 0; d < 2 * dr; d++) {
                float e = d < dr ? model.repItem.weights[eItem + d] : model.repCat.weights[eCat + d - dr];
                packed[base + 4 * d] = e;
                packed[base + 4 * (2 * dr + d)] = h[d];
                packed[base + 4 * (4 * dr + d)] = e * h[d];
            }
            selected[i] = ids;
            weights[i] = w;
        }
        System.arraycopy(model.mlp.inferBatch(packed, count, transposed), 0, logits, first, count);
    }

    private static final VectorSpecies<Float> SPECIES = Simd.FLOATS;

    /**
     * softmax(scale * raw), the exponentials a vector at a time (the search's k scores of a candidate: twenty
     * scalar {@code Math.exp} calls cost more than the weighted sums they weigh).
     */
    static float[] softmax(float[] raw, float scale) {
        int n = raw.length;
        float[] w = new float[n];
        float max = Float.NEGATIVE_INFINITY;
        for (float r : raw) {
            max = Math.max(max, scale * r);
        }
        int lanes = SPECIES.length();
        int s = 0;
        for (; s + lanes <= n; s += lanes) {
            FloatVector.fromArray(SPECIES, raw, s).mul(scale).sub(max)
                    .lanewise(VectorOperators.EXP).intoArray(w, s);
        }
        for (; s < n; s++) {
            w[s] = (float) Math.exp(scale * raw[s] - max);
        }
        double sum = 0;
        for (float x : w) {
            sum += x;
        }
        for (s = 0; s < n; s++) {
            w[s] /= (float) sum;
        }
        return w;
    }

    private float[][] servingWeights() {
        long v = model.weightsVersion();
        ServingWeights s = serving;
        if (s == null || s.version() != v) {
            s = new ServingWeights(v, model.mlp.transposedWeights());
            serving = s;
        }
        return s.transposed();
    }
}
