package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class SimdTest {

    @Test
    void theWidthIsTheOneThePropertyNamesElseTheMachinesPreferred() {
        String bits = System.getProperty(Simd.BITS_PROPERTY);
        if (bits == null || bits.isBlank()) {
            assertThat(Simd.FLOATS.vectorBitSize()).isEqualTo(Math.min(512, FloatVector.SPECIES_PREFERRED.vectorBitSize()));
            assertThat(Simd.emulated()).isFalse();
        } else {
            // the runs of the SIMD tests at other widths (the simd-128 and simd-512 executions of the build)
            assertThat(Simd.FLOATS.vectorBitSize()).isEqualTo(Integer.parseInt(bits.strip()));
        }
        System.out.println("SIMD width of this run: " + Simd.FLOATS.vectorBitSize() + " bits" + (Simd.emulated() ? " (emulated)" : ""));
    }

    @Test
    void namesEachWidthAndRefusesOthersClearly() {
        assertThat(Simd.floats("128")).isEqualTo(FloatVector.SPECIES_128);
        assertThat(Simd.floats(" 256 ")).isEqualTo(FloatVector.SPECIES_256);
        assertThat(Simd.floats("512")).isEqualTo(FloatVector.SPECIES_512);
        assertThat(Simd.floats("").vectorBitSize()).isEqualTo(Math.min(512, FloatVector.SPECIES_PREFERRED.vectorBitSize()));
        assertThatThrownBy(() -> Simd.floats("1024")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-Dattend.simd.bits=1024").hasMessageContaining("128, 256 or 512");
    }
}
