package dev.attend.gpu;

import java.util.Locale;

/**
 * Where a computation really ran. Every result carries one, so a caller can tell a GPU figure from a
 * run that fell back to the CPU.
 *
 * @param backend the scorer implementation ("simd", "opencl", "scalar")
 * @param kind    the processor class
 * @param name    a human description (device name, vector width, threads)
 */
public record Device(String backend, Kind kind, String name) {

    /** Processor class of a device. */
    public enum Kind { CPU, GPU, ACCELERATOR }

    @Override
    public String toString() {
        return backend + ":" + kind.name().toLowerCase(Locale.ROOT) + " (" + name + ")";
    }
}
