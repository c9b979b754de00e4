package dev.attend.recsys.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** Finite-difference checks of every parameter block's gradient, for each kind of model. */
class SequenceModelGradientTest {

    static final long SEED = Long.getLong("attend.test.seed", 17);

    @BeforeAll
    static void printSeed() {
        System.out.println("SequenceModelGradientTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }
    static final int[] ITEMS = {3, 7, 2, 9, 3, 5, 8, 1};
    static final int[] CATEGORIES = {1, 2, 1, 3, 1, 2, 4, 4};

    /** The behaviours the unperturbed model selects: a perturbation that changes them crosses a step of top-K. */
    private static int[] selection;

    /** Which side of the PReLU's kink each hidden unit of the unperturbed model is on. */
    private static String kinks;

    private static String kinks(SequenceModel.Forward f) {
        StringBuilder b = new StringBuilder();
        for (int l = 0; l < f.pre.length - 1; l++) {
            for (float z : f.pre[l]) {
                b.append(z > 0 ? '+' : '-');
            }
        }
        return b.toString();
    }

    /**
     * The loss, or NaN when the perturbation changed the top-K selection (the function jumps there) or moved a
     * hidden unit across the PReLU's kink (the derivative jumps there).
     */
    private static double loss(SequenceModel m, float label) {
        SequenceModel.Forward f = m.forward(ITEMS, CATEGORIES, 1, ITEMS.length, 6, 2);
        int[] chosen = f.selected.clone();
        Arrays.sort(chosen);
        boolean smooth = Arrays.equals(chosen, selection) && kinks(f).equals(kinks);
        return smooth ? SequenceModel.loss(f.logit, label) : Double.NaN;
    }

    /** Compares d loss / d values[i] by central differences with {@code analytic} at a few indices. */
    private static final int[] checked = new int[1];

    private static void check(String what, float[] values, float[] analytic, SequenceModel m, float label, SplittableRandom rnd,
                              List<String> failures, int samples) {
        for (int s = 0; s < samples; s++) {
            int i = rnd.nextInt(values.length);
            float saved = values[i];
            float eps = 5e-3f;
            values[i] = saved + eps;
            double up = loss(m, label);
            values[i] = saved - eps;
            double down = loss(m, label);
            values[i] = saved;
            double numeric = (up - down) / (2 * eps);
            if (Double.isNaN(numeric)) {
                continue; // across a step of the top-K selection: no derivative to compare
            }
            checked[0]++;
            double a = analytic == null ? 0 : analytic[i];
            if (Math.abs(numeric - a) > 2e-3 + 0.03 * Math.abs(numeric)) {
                failures.add(what + "[" + i + "]: numeric " + numeric + ", analytic " + a);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"DARE, 0", "TWIN, 0", "DIN, 0", "DARE, 4", "TWIN, 4", "DIN, 4"})
    void gradientsMatchFiniteDifferences(ModelConfig.Kind kind, int positionBuckets) {
        int da = kind == ModelConfig.Kind.DARE ? 3 : 4;
        SequenceModel m = new SequenceModel(new ModelConfig(kind, da, 4, 3, new int[] {6, 5}, positionBuckets), 10, 4, SEED);
        // Larger embeddings than the defaults, so that the attention weights differ and every path carries gradient.
        SplittableRandom init = new SplittableRandom(SEED + 1);
        for (EmbeddingTable t : m.tables()) {
            for (int i = t.dim; i < t.weights.length; i++) {
                t.weights[i] = (float) init.nextGaussian();
            }
        }
        for (float label : new float[] {0, 1}) {
            SequenceModel.Forward f = m.forward(ITEMS, CATEGORIES, 1, ITEMS.length, 6, 2);
            assertThat(f.selected).hasSize(kind == ModelConfig.Kind.DIN ? 7 : 3);
            selection = f.selected.clone();
            Arrays.sort(selection);
            kinks = kinks(f);
            checked[0] = 0;
            Gradients g = new Gradients(m.mlp);
            m.backward(f, SequenceModel.sigmoid(f.logit) - label, g);
            List<String> failures = new ArrayList<>();
            SplittableRandom rnd = new SplittableRandom(SEED + 2);
            for (int l = 0; l < m.mlp.layers(); l++) {
                check("W" + l, m.mlp.weights[l], g.weights[l], m, label, rnd, failures, 12);
                check("b" + l, m.mlp.biases[l], g.biases[l], m, label, rnd, failures, 4);
            }
            for (int l = 0; l < m.mlp.slopes.length; l++) {
                check("slope" + l, m.mlp.slopes[l], g.slopes[l], m, label, rnd, failures, 4);
            }
            for (EmbeddingTable t : m.tables()) {
                float[] dense = new float[t.weights.length];
                for (int row = 0; row < t.rows; row++) {
                    float[] gr = g.row(t, row);
                    if (gr != null) {
                        System.arraycopy(gr, 0, dense, t.offset(row), t.dim);
                    }
                }
                check(t.name, t.weights, dense, m, label, rnd, failures, 60);
            }
            assertThat(failures).as("seed " + SEED + ", " + kind + ", buckets " + positionBuckets + ", label " + label).isEmpty();
            assertThat(checked[0]).as("derivatives compared").isGreaterThan(150);
        }
    }
}
