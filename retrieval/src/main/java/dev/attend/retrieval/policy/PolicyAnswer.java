package dev.attend.retrieval.policy;

/**
 * One decode query's answer under a head policy.
 *
 * @param keysScanned query-key products computed: the static set and what choosing the rest took (an index search's
 *                    distance computations, a recycled pool's products, a tail's centroids); the retrieved keys were
 *                    scored by that choice and are not counted again
 * @param searched    whether the index was searched (false for a recycled selection and for policies without one)
 * @param staticKeys  keys of the static set attended exactly: the first sinks and every token from some position on
 *                    (for {@code full}, every token)
 * @param selected    the positions outside the static set attended exactly (retrieved keys, or the chosen blocks' tokens)
 */
public record PolicyAnswer(float[] output, double logSumExp, long keysScanned, boolean searched, int staticKeys, int[] selected) {
}
