package dev.attend.gpu;

import org.assertj.core.data.Offset;

import static org.assertj.core.api.Assertions.assertThat;

/** Compares a backend's answers with the scalar reference, allowing float32 rounding. */
final class ScorerAssertions {

    private ScorerAssertions() {
    }

    /** Rounding allowance for a float32 dot product of vectors with these norms. */
    static double tolerance(float[] q, float[] k) {
        double s = 0;
        for (int i = 0; i < q.length; i++) {
            s += Math.abs((double) q[i] * k[i]);
        }
        return 1e-5 * s + 1e-6;
    }

    /**
     * Same size as the reference; every returned id's reported score equals its exact score; the
     * score at every rank equals the reference's; ids agree wherever the reference has no near tie.
     */
    static void assertSameTopK(String label, TopK actual, TopK expected, float[] query, VectorStore keys) {
        assertThat(actual.size()).as("%s: result size", label).isEqualTo(expected.size());
        for (int r = 0; r < actual.size(); r++) {
            float[] row = keys.row(actual.ids()[r]);
            double exact = dot(query, row);
            double tol = tolerance(query, row);
            assertThat((double) actual.scores()[r]).as("%s: reported score of id %d at rank %d", label, actual.ids()[r], r)
                    .isCloseTo(exact, Offset.offset(tol));
            assertThat((double) actual.scores()[r]).as("%s: score at rank %d", label, r)
                    .isCloseTo(expected.scores()[r], Offset.offset(2 * tol));
            if (r > 0) {
                assertThat(actual.scores()[r]).as("%s: scores descend", label).isLessThanOrEqualTo(actual.scores()[r - 1]);
            }
        }
        for (int r = 0; r < expected.size(); r++) {
            float[] row = keys.row(expected.ids()[r]);
            double tol = 4 * tolerance(query, row);
            boolean tieAbove = r > 0 && expected.scores()[r - 1] - expected.scores()[r] <= tol;
            boolean tieBelow = r + 1 < expected.size() && expected.scores()[r] - expected.scores()[r + 1] <= tol;
            if (!tieAbove && !tieBelow) {
                assertThat(actual.ids()[r]).as("%s: id at rank %d (no near tie)", label, r).isEqualTo(expected.ids()[r]);
            }
        }
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }
}
