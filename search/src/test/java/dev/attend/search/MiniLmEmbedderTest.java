package dev.attend.search;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class MiniLmEmbedderTest {

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    @Test
    void embedsTextAsUnitVectorsThatPlaceSimilarSentencesNearer() {
        MiniLmEmbedder e = MiniLmEmbedder.shared();
        List<float[]> v = e.embedAll(List.of("How do libraries catalogue their books?", "Cataloguing books in a public library",
                "Treatment of childhood leukaemia", ""));
        assertThat(v).hasSize(4).allSatisfy(x -> {
            assertThat(x).hasSize(MiniLmEmbedder.DIM);
            assertThat(dot(x, x)).isCloseTo(1.0, Offset.offset(1e-5));
        });
        assertThat(dot(v.get(0), v.get(1))).isGreaterThan(dot(v.get(0), v.get(2)) + 0.2);
        float[] single = e.embed("How do libraries catalogue their books?");
        assertThat(dot(single, v.get(0))).isGreaterThan(0.999);
    }
}
