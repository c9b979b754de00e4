package dev.attend.gpu;

import java.util.Locale;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector width of every SIMD loop in the engine: the machine's preferred one up to 512 bits (256 with AVX2, 512
 * with AVX-512; wider SVE vectors are used 512 bits at a time, the widest the kernels' 32-row tiles are written
 * for), or the one the system property {@code attend.simd.bits} names (128, 256 or 512). The property lets the tests
 * run the kernels at widths the machine does not have (the JDK then emulates the vectors: much slower, the same
 * arithmetic), as Lucene's tests do with {@code tests.vectorsize}. A constant once the class is loaded, so the
 * compiler still specialises every loop for it.
 */
public final class Simd {

    /** The property that overrides the machine's preferred width (tests; a server has no reason to set it). */
    public static final String BITS_PROPERTY = "attend.simd.bits";

    /** The float species every SIMD loop uses. */
    public static final VectorSpecies<Float> FLOATS = floats(System.getProperty(BITS_PROPERTY));

    private Simd() {
    }

    /** The species for {@code bits} ("128", "256", "512"), or the preferred one (at most 512 bits) for null or blank. */
    static VectorSpecies<Float> floats(String bits) {
        if (bits == null || bits.isBlank()) {
            return FloatVector.SPECIES_PREFERRED.vectorBitSize() > 512 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_PREFERRED;
        }
        return switch (bits.strip()) {
            case "128" -> FloatVector.SPECIES_128;
            case "256" -> FloatVector.SPECIES_256;
            case "512" -> FloatVector.SPECIES_512;
            default -> throw new IllegalArgumentException(String.format(Locale.ROOT, "-D%s=%s: give 128, 256 or 512 (bits of a vector)",
                    BITS_PROPERTY, bits));
        };
    }

    /** Whether the vectors are emulated rather than the machine's own (a width above the preferred one). */
    public static boolean emulated() {
        return FLOATS.vectorBitSize() > VectorShape.preferredShape().vectorBitSize();
    }
}
