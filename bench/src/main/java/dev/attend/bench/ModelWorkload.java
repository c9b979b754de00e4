package dev.attend.bench;

import dev.attend.bench.workload.KvWorkload;
import dev.attend.bench.workload.OodParameters;
import dev.attend.bench.workload.OodWorkloadGenerator;
import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The synthetic heads of one model-shaped session ({@code bench model}). KV head {@code i = layer x kvHeads + h} is an
 * out-of-distribution head of {@link OodWorkloadGenerator} with parameter set {@code i mod sets} (the embedded fitted
 * heads in turn, at the session's head dimension: {@link OodWorkloadGenerator#atDimension}) and a seed of its own.
 * Its keys, the prefill's and then the decoded tokens', are one key stream of the generator; its values are
 * {@link DecodeWorkload#syntheticValues}. Each of its query heads has a query stream of its own (the same fitted
 * distribution, another seed: G streams per KV head, not one stream perturbed): training queries for the prefill, the
 * generator's test queries (drifted as the fitted head's decode queries are) for the decode steps.
 *
 * @param shape       the session's shape and what is generated per head
 * @param sets        the parameter sets, at {@code shape.headDim()}
 * @param seed        the run's seed
 * @param session     which session of the run (sessions draw different heads)
 */
record ModelWorkload(Shape shape, List<OodParameters> sets, long seed, int session) {

    /**
     * @param layers         layers
     * @param kvHeads        KV heads per layer
     * @param group          query heads per KV head
     * @param headDim        dimension of keys, values and queries
     * @param tokens         prefill tokens per KV head
     * @param steps          decode steps after the prefill (warm-up and timed)
     * @param trainPerKvHead prefill queries per KV head, split evenly over its query heads
     * @param storage        precision the heads are generated in (the session's storage)
     */
    record Shape(int layers, int kvHeads, int group, int headDim, int tokens, int steps, int trainPerKvHead, Precision storage) {

        /** Prefill queries per query head. */
        int trainPerQueryHead() {
            return (trainPerKvHead + group - 1) / group;
        }

        int queryHeads() {
            return kvHeads * group;
        }

        /** Bytes the generated heads of one layer hold: keys and values of every token, prefill queries. */
        long layerBytes() {
            return (long) kvHeads * headDim * storage.bytes() * (2L * (tokens + steps) + (long) trainPerQueryHead() * group);
        }
    }

    /**
     * One KV head: keys and values of every token (the prefill's, then the decode steps'), and per query head of it
     * (in order) its prefill queries and its decode queries ({@code decodeQueries[g][step]}).
     */
    record Head(OodParameters params, VectorStore keys, VectorStore values, VectorStore[] training, float[][][] decodeQueries) {
    }

    /** The embedded parameter sets named (all when {@code names} is empty) at dimension {@code dim}. */
    static List<OodParameters> parameterSets(List<String> names, int dim) {
        List<String> chosen = names.isEmpty() ? OodWorkloadGenerator.defaultHeads() : names;
        return chosen.stream().parallel().map(n -> OodWorkloadGenerator.atDimension(OodWorkloadGenerator.defaults(n), dim)).toList();
    }

    /** The KV heads of {@code layer}, generated in parallel. */
    Head[] layer(int layer) {
        return IntStream.range(0, shape.kvHeads()).parallel().mapToObj(h -> head(layer, h)).toArray(Head[]::new);
    }

    /**
     * The KV heads of every layer, {@code [layer][kvHead]}, generated in parallel over all of them (a layer's eight
     * heads alone kept half of sixteen cores busy).
     */
    Head[][] layers() {
        int kv = shape.kvHeads();
        Head[] all = IntStream.range(0, shape.layers() * kv).parallel().mapToObj(i -> head(i / kv, i % kv)).toArray(Head[]::new);
        Head[][] out = new Head[shape.layers()][];
        for (int l = 0; l < out.length; l++) {
            out[l] = Arrays.copyOfRange(all, l * kv, (l + 1) * kv);
        }
        return out;
    }

    private Head head(int layer, int kvHead) {
        int index = layer * shape.kvHeads() + kvHead;
        OodParameters p = sets.get(index % sets.size());
        long s = headSeed(index);
        int n = shape.tokens() + shape.steps();
        VectorStore keys = OodWorkloadGenerator.generate(p, n, 0, 0, s, shape.storage()).keys();
        VectorStore values = DecodeWorkload.syntheticValues(n, shape.headDim(), s, shape.storage());
        VectorStore[] training = new VectorStore[shape.group()];
        float[][][] decode = new float[shape.group()][][];
        for (int g = 0; g < shape.group(); g++) {
            // One key for the workload's sake: the query head's stream is its queries alone.
            KvWorkload q = OodWorkloadGenerator.generate(p, 1, shape.trainPerQueryHead(), shape.steps(), s + (g + 1) * 0x9E3779B97F4A7C15L,
                    shape.storage());
            training[g] = q.trainingQueries();
            decode[g] = q.testQueries();
        }
        return new Head(p, keys, values, training, decode);
    }

    /** KV head {@code index}'s seed: distinct for every head of every session of a run. */
    private long headSeed(int index) {
        return seed * 1_000_003L + (long) session * 65_536L + index;
    }
}
