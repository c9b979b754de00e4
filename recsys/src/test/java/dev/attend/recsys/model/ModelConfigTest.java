package dev.attend.recsys.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ModelConfigTest {

    @Test
    void positionBucketsAreLog2GapsCappedAtTheLast() {
        assertThat(ModelConfig.positionBucketsFor(1)).isEqualTo(1);
        assertThat(ModelConfig.positionBucketsFor(2)).isEqualTo(2);
        assertThat(ModelConfig.positionBucketsFor(200)).isEqualTo(9); // gaps 0..199: buckets 0..8
        assertThat(ModelConfig.positionBucketsFor(256)).isEqualTo(9);
        assertThat(ModelConfig.positionBucketsFor(257)).isEqualTo(10);
        ModelConfig c = new ModelConfig(ModelConfig.Kind.DARE, 4, 8, 3, new int[] {8}, ModelConfig.positionBucketsFor(200));
        int[] expected = {0, 1, 2, 2, 3, 3, 3, 3, 4};
        for (int gap = 0; gap < expected.length; gap++) {
            assertThat(c.positionBucket(gap)).as("gap %d", gap).isEqualTo(expected[gap]);
        }
        assertThat(c.positionBucket(199)).isEqualTo(8);
        assertThat(c.positionBucket(100_000)).as("older than any trained gap: the last bucket").isEqualTo(8);
        assertThatThrownBy(() -> c.withPositionBuckets(33)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ModelConfig(ModelConfig.Kind.TWIN, 4, 8, 3, new int[] {8})).hasMessageContaining("must equal");
    }
}
